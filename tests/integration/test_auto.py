"""The acting default mode (auto; `enforce` is its old name) end to end, on
every Python of common.pythons(), with no BETAPOOL_MODE set: the veto keeps
K at its floor for a CPU-bound pool, the gate shuts and parks the rest; a
sleep-bound pool is never parked; Python that busy-waits on a flag set by a
parked thread still finishes; KeyboardInterrupt reaches a program whose
workers are all CPU-bound; the public metrics API read through ctypes agrees
with the log; observe mode never decides or parks; and thread start is never
stalled by the gate.

Every auto log is also checked for its own consistency: one start first,
one exit last, decisions well formed (K, the gate and the CPU in each),
every process record's k, gate and cpu those the decisions before it left,
the exit record's decision counts those of the records, and every figure
set adding up to its wall time with parked_ms.

Workloads live in workloads/auto_*.py and print one JSON line."""
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import common
from common import WORKLOADS, ShimTestCase, run

FIGS = ("gil_held_ms", "gil_wait_ms", "idle_ms", "blocked_ms", "parked_ms")
ACTIONS = ("scale_up", "scale_down", "veto", "hold")
MODE_AUTO = 2

# (a) and (f): 32 plain threads computing at once (they start together, see
# the workload), a fixed amount of pure-Python work so that the result does
# not depend on timing and can be compared with the run without the shim.
# (a) asserts that threads park, which needs takes behind the K slots after
# the gate has shut (its first tick comes 25 ms in): each thread's work must
# span several 5 ms switch intervals. 600,000 iterations are 22 ms on the
# fastest Python here (Debian's 3.11, 27M/s) and 49 ms on the slowest
# (pyenv's 3.10); the pool is 0.7-1.6 s of CPU. The old 120,000 fit inside
# one switch interval on Debian's 3.11: with the other CPU busy no more than
# K workers were ever alive at once, and nothing parked (issue 22).
CPU_THREADS, CPU_ITERS = 32, 600_000
# (b): 64 threads, each looping time.sleep(2 ms) + spin(200) for 2 s.
SLEEP_ARGS = ("64", "2.0", "0.002", "200")
# (c): a spinner and 8 CPU-bound workers; worker 0 sets the flag. With K
# forced to 1 the setter runs only after overruns of the 1 s park bound:
# measured 1.8-13.6 s against 1.1-1.9 s without betapool, so the bound on
# finishing is 60 s.
SPIN_WORKERS, SPIN_ITERS, SPIN_TIMEOUT = 8, 1_000_000, 60
# (e): 16 CPU-bound threads, metrics read 0.5 s and 1.0 s after they started.
METRIC_THREADS, METRIC_DELAYS = 16, ("0.5", "1.0")
# Seconds of slack on the metrics' time bounds (the workload's, from /proc's
# start times, see auto_metrics.py): the log's 6 decimals above; below,
# also a tick's own work (its records carry its start time, and the metrics
# are published at its end).
T_SLACK_HI, T_SLACK_LO = 0.001, 0.01
# (g): ThreadPoolExecutor(256), 2,000 trivial tasks.
SUBMIT_WORKERS, SUBMIT_TASKS = 256, 2000


def wl(name):
    return os.path.join(WORKLOADS, name)


def excerpt(rows, limit=6):
    return "\n".join(json.dumps(r, sort_keys=True)[:400] for r in rows[:limit])


def of(recs, event):
    return [r for r in recs if r.get("event") == event]


def decision_counts(recs):
    """Each decision record's three decisions, counted as the exit record's
    "decisions" counts them."""
    out = {a: 0 for a in ACTIONS + ("pin", "unpin", "gate_shut", "gate_open")}
    for r in of(recs, "decision"):
        out[r["action"]] = out.get(r["action"], 0) + 1
        if r.get("pin") in ("pin", "unpin"):
            out[r["pin"]] += 1
        if r.get("gate") != r.get("gate_was"):
            out["gate_shut" if r.get("gate") == "shut" else "gate_open"] += 1
    return out


def k_trace(recs):
    """[(t, k)] from the process records, for messages."""
    return [(r["t"], r.get("k"), r.get("parked")) for r in of(recs, "process")]


def brief(recs):
    """A one-paragraph account of an auto log, for failure messages."""
    ex = recs[-1] if recs and recs[-1].get("event") == "exit" else {}
    return (f"decision records {decision_counts(recs)}; exit decisions {ex.get('decisions')}, "
            f"parks {ex.get('parks')}, overruns {ex.get('park_overruns')}; "
            f"(t, k, parked) per process record {k_trace(recs)[:40]}")


def note(msg):
    print(f"\n  {msg}", file=sys.stderr, end="")


class AutoCase(ShimTestCase):
    """Runs workloads with a log, and keeps the runs without the shim that
    several tests compare with."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="betapool-auto-")
        cls.bare_cache = {}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def last_json(self, cp, what):
        lines = cp.stdout.strip().splitlines()
        self.assertTrue(lines and lines[-1].startswith("{"),
                        f"{what}: no JSON line in stdout {cp.stdout[-1000:]!r}; "
                        f"stderr {cp.stderr[-2000:]}")
        return json.loads(lines[-1])

    def bare(self, py, args, timeout=120):
        """The workload's output without the shim (cached per Python)."""
        key = (py, tuple(args))
        if key not in self.bare_cache:
            t0 = time.monotonic()
            cp = run([py] + list(args), preload=False, timeout=timeout)
            took = time.monotonic() - t0
            self.assertEqual(cp.returncode, 0, f"without the shim {args}: {cp.stderr[-2000:]}")
            self.bare_cache[key] = (self.last_json(cp, f"without the shim {args}"), took)
        return self.bare_cache[key]

    def logged(self, label, py, args, extra_env=None, timeout=120, mode=None):
        """Run under the shim with a log; return (completed, out, records,
        seconds). mode None leaves BETAPOOL_MODE unset (the default)."""
        d = tempfile.mkdtemp(prefix=label + "-", dir=self.tmp)
        log = os.path.join(d, "run.jsonl")
        env = {"BETAPOOL_LOG": log}
        if mode is not None:
            env["BETAPOOL_MODE"] = mode
        env.update(extra_env or {})
        t0 = time.monotonic()
        try:
            cp = run([py] + list(args), env, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            recs = common.read_log(log) if os.path.exists(log) else []
            self.fail(f"{label} {args}: still running after {timeout} s under the shim "
                      f"({env}); log so far: {brief(recs)}\nstderr: {(e.stderr or b'')[-2000:]!r}")
        took = time.monotonic() - t0
        self.assertEqual(cp.returncode, 0, f"{label} {args}: exit {cp.returncode}\n{cp.stderr[-2000:]}")
        out = self.last_json(cp, f"{label} {args}")
        self.assertTrue(os.path.exists(log), f"{label} {args}: no log written at {log}")
        recs = common.read_log(log)
        self.check_shape(label, recs)
        if recs[0].get("mode") == "auto":
            self.check_auto_log(label, recs)
        return cp, out, recs, took

    def check_shape(self, label, recs):
        self.assertTrue(recs, f"{label}: empty log")
        self.assertEqual(recs[0]["event"], "start", f"{label}: first record\n{excerpt(recs)}")
        self.assertEqual(recs[-1]["event"], "exit", f"{label}: last record\n{excerpt(recs[-2:])}")
        self.assertEqual(len(of(recs, "start")), 1, f"{label}: start records")
        self.assertEqual(len(of(recs, "exit")), 1, f"{label}: exit records")
        for r in of(recs, "sample") + of(recs, "thread_exit"):
            parts = sum(r.get(k, 0.0) for k in FIGS)
            self.assertAlmostEqual(r["wall_ms"], parts, delta=0.01 + 1e-6 * r["wall_ms"],
                                   msg=f"{label}: wall != held + wait + idle + blocked + parked: "
                                       f"{json.dumps(r)}")

    def check_auto_log(self, label, recs):
        """What every auto log must say, whatever the workload."""
        opts = recs[0]["options"]
        lo, hi = opts["min_workers"], opts["max_workers"]
        k, gate, pinned = lo, "open", -1
        procs = 0
        for r in recs:
            if r["event"] == "process":
                procs += 1
                for key in ("k", "parked", "parks", "park_overruns", "gate", "cpu", "forced", "favoured"):
                    self.assertIn(key, r, f"{label}: process record without {key}: {json.dumps(r)}")
                self.assertEqual(r["k"], k, f"{label}: process record's k is not the K the "
                                 f"decisions before it left ({k}): {json.dumps(r)}\n{brief(recs)}")
                self.assertEqual(r["gate"], gate, f"{label}: process record's gate is not the one in force: "
                                 f"{json.dumps(r)}")
                self.assertEqual(r["cpu"], pinned, f"{label}: process record's cpu is not the pin in force: "
                                 f"{json.dumps(r)}")
                self.assertGreaterEqual(r["parked"], 0, json.dumps(r))
                self.assertLessEqual(r["park_overruns"], r["parks"], json.dumps(r))
            elif r["event"] == "decision":
                for key in ("action", "k_before", "k_after", "beta_io", "demand", "reason", "gate",
                            "gate_was", "signal", "forced_per_s", "rewaits", "gate_reason", "pin", "cpu", "pin_reason"):
                    self.assertIn(key, r, f"{label}: decision without {key}: {json.dumps(r)}")
                self.assertIn(r["action"], ACTIONS, json.dumps(r))
                self.assertEqual(r["k_before"], k, f"{label}: k_before is not the K in force: "
                                 f"{json.dumps(r)}")
                # Up by doubling, capped at the maximum; down by one; the
                # veto halves K, not below the minimum.
                want = {"scale_up": min(2 * r["k_before"], hi),
                        "scale_down": r["k_before"] - 1,
                        "veto": max(r["k_before"] // 2, lo)}.get(r["action"], r["k_before"])
                self.assertEqual(r["k_after"], want, f"{label}: {json.dumps(r)}")
                self.assertTrue(lo <= r["k_after"] <= hi, f"{label}: K outside [{lo}, {hi}]: "
                                f"{json.dumps(r)}")
                if r["action"] == "veto":
                    self.assertGreaterEqual(r["demand"], 0.5, f"{label}: a veto without demand: {json.dumps(r)}")
                    self.assertLessEqual(r["beta_io"], opts["gil_danger"], f"{label}: {json.dumps(r)}")
                if r["action"] == "scale_up":
                    self.assertGreaterEqual(r["demand"], 0.5, f"{label}: {json.dumps(r)}")
                    self.assertGreaterEqual(r["beta_io"], opts["gil_danger"], f"{label}: {json.dumps(r)}")
                if r["action"] == "scale_down":
                    self.assertLess(r["demand"], 0.5, f"{label}: {json.dumps(r)}")
                self.assertEqual(r["gate_was"], gate, f"{label}: gate_was is not the gate in force: "
                                 f"{json.dumps(r)}")
                self.assertIn(r["gate"], ("open", "shut"), json.dumps(r))
                if r["gate"] == "shut" and gate == "open":
                    self.assertNotEqual(r["signal"], "none", f"{label}: shut without a signal: {json.dumps(r)}")
                    self.assertGreaterEqual(r["forced_per_s"], 20, f"{label}: {json.dumps(r)}")
                self.assertIn(r["pin"], ("pin", "unpin", "stay"), json.dumps(r))
                self.assertEqual(r["cpu"] >= 0, r["pin"] == "pin" or (r["pin"] == "stay" and pinned >= 0),
                                 f"{label}: cpu does not follow the pin: {json.dumps(r)}")
                if r["pin"] != "stay":
                    self.assertEqual(r["pin"] == "pin", pinned < 0,
                                     f"{label}: pin while pinned or unpin while not: {json.dumps(r)}")
                k, gate, pinned = r["k_after"], r["gate"], r["cpu"]
        ex = recs[-1]
        for key in ("decisions", "parks", "park_overruns", "forced", "favoured"):
            self.assertIn(key, ex, f"{label}: exit record without {key}")
        # Every change and every veto is logged; a hold only when its reason
        # changes.
        logged = decision_counts(recs)
        for a in ("scale_up", "scale_down", "veto", "pin", "unpin", "gate_shut", "gate_open"):
            self.assertEqual(ex["decisions"].get(a), logged[a],
                             f"{label}: exit says {a} {ex['decisions']}, records say {logged}")
        self.assertGreaterEqual(ex["decisions"].get("hold", 0), logged["hold"], json.dumps(ex["decisions"]))
        self.assertLessEqual(ex["park_overruns"], ex["parks"], f"{label}: more overruns than parks")
        ctl = sum(ex["decisions"].get(a, 0) for a in ACTIONS)
        self.assertLessEqual(ctl, procs, f"{label}: more decisions than ticks")

class TestAuto(AutoCase):

    # a ---------------------------------------------------------------------
    def test_cpu_pool_is_vetoed_at_the_floor(self):
        args = [wl("auto_cpu_pool.py"), str(CPU_THREADS), str(CPU_ITERS)]
        for label, py in self.each_python():
            with self.subTest(python=label):
                want, bare_s = self.bare(py, args)
                cp, out, recs, took = self.logged(label, py, args)  # no BETAPOOL_MODE: the default
                self.assertEqual(recs[0].get("mode"), "auto", json.dumps(recs[0]))
                floor = recs[0]["options"]["min_workers"]
                self.assertEqual(floor, 2, json.dumps(recs[0]))
                self.assertEqual(out["result"], want["result"], f"{label}: the result changed")
                why = brief(recs)
                decs = of(recs, "decision")
                self.assertTrue(any(r["action"] == "veto" for r in decs), f"{label}: no veto. {why}")
                self.assertEqual([r for r in decs if r["k_after"] != floor], [],
                                 f"{label}: K left its floor. {why}")
                shut = [r for r in decs if r["gate"] == "shut"]
                self.assertTrue(shut, f"{label}: the gate never shut. {why}")
                self.assertIn(shut[0]["signal"], ("forced_switches", "main_waiting"), json.dumps(shut[0]))
                procs = of(recs, "process")
                self.assertEqual([r for r in procs if r["k"] != floor], [], f"{label}: k != {floor}. {why}")
                # Parking is read from what counts every park: the exit and
                # process records' parks and the workers' parked time over
                # their lives. A process record's parked is the count at the
                # tick's instant only, and a pool whose threads each compute
                # ~10 ms can park 20-odd times in a run without one park
                # spanning a tick (seen on an idle machine: parked 0 in every
                # process record, parks 22-24 at exit).
                self.assertGreater(recs[-1]["parks"], 0, f"{label}: nobody parked. {why}")
                self.assertEqual(max(r["parks"] for r in procs), recs[-1]["parks"], why)
                ex = recs[-1]
                tids = set(out["workers"])
                # A worker joined by Python may still be ending when the exit
                # record is written: it is then in the exit record's list.
                lives = [r for r in of(recs, "thread_exit") + ex.get("threads", []) if r["tid"] in tids]
                self.assertEqual(sorted(r["tid"] for r in lives), sorted(tids),
                                 f"{label}: workers missing from thread_exit and the exit record's list")
                parked_ms = sum(r.get("parked_ms", 0.0) for r in lives)
                self.assertGreater(parked_ms, 0.0, f"{label}: the workers' parked_ms is 0 with "
                                   f"{ex['parks']} parks. {why}")
                sampled = sum(r.get("parked_ms", 0.0) for r in of(recs, "sample") if r["tid"] in tids)
                self.assertAlmostEqual(sampled, parked_ms, delta=0.01 * len(lives) + 1e-6 * parked_ms,
                                       msg=f"{label}: parked_ms of the samples and of the lives differ")
                # Time is parked only after a park is counted.
                parkers = sum(r.get("parked_ms", 0.0) > 0 for r in lives)
                self.assertLessEqual(parkers, ex["parks"], f"{label}: {parkers} workers parked "
                                     f"with {ex['parks']} parks counted")
                note(f"cpu pool {label}: {took:.2f} s (pool {out['seconds']} s; without the shim "
                     f"{bare_s:.2f} s, pool {want['seconds']} s); decisions {ex['decisions']}, "
                     f"parks {ex['parks']}, overruns {ex['park_overruns']}, "
                     f"max parked {max(r['parked'] for r in procs)}, "
                     f"max gil_waiting {max(r['gil_waiting'] for r in procs)}")

    # b ---------------------------------------------------------------------
    def test_sleep_pool_is_never_parked(self):
        args = [wl("auto_sleepers.py")] + list(SLEEP_ARGS)
        for label, py in self.each_python():
            with self.subTest(python=label):
                cp, out, recs, took = self.logged(label, py, args)
                why = brief(recs)
                decs = of(recs, "decision")
                procs = of(recs, "process")
                # Threads that hold the GIL briefly and sleep are never the
                # ones to park, whatever the gate says.
                self.assertEqual(recs[-1]["parks"], 0, f"{label}: sleepers parked. {why}")
                self.assertEqual([r for r in of(recs, "sample") if r.get("parked_ms", 0) > 0], [],
                                 f"{label}: parked_ms in a sleeper's sample")
                # The gate must not bend the accounting: sleepers stay sleepers.
                # (A slot granted without a park once backdated the take to the
                # start of the sleep before it: whole sleeps counted as held.)
                # (Workers still ending at exit are in the exit record's list.)
                lives = of(recs, "thread_exit") + [r for r in recs[-1].get("threads", []) if r["via"] != "main"]
                exits = [r for r in lives if r.get("python") and r["wall_ms"] > 500]
                self.assertTrue(exits, f"{label}: no worker thread_exit records. {why}")
                for r in exits:
                    self.assertLess(r["gil_held_ms"], 0.2 * r["wall_ms"],
                                    f"{label}: a sleeper held the GIL most of its life: {json.dumps(r)}")
                    self.assertGreater(r["beta_io"], 0.8, f"{label}: {json.dumps(r)}")
                ex = recs[-1]
                note(f"sleep pool {label}: rounds {out['rounds']}, K max "
                     f"{max(r['k'] for r in procs)}, decisions {ex['decisions']}, "
                     f"max demand {max((r['demand'] for r in decs), default=0)}, "
                     f"parks {ex['parks']}, overruns {ex['park_overruns']}")

    # c ---------------------------------------------------------------------
    def test_busy_wait_on_flag_set_by_parked_thread(self):
        args = [wl("auto_spinflag.py"), str(SPIN_WORKERS), str(SPIN_ITERS)]
        for label, py in self.each_python():
            with self.subTest(python=label):
                want, bare_s = self.bare(py, args, timeout=SPIN_TIMEOUT * 3)
                cp, out, recs, took = self.logged(label, py, args, {"BETAPOOL_MIN_WORKERS": "1",
                                                                    "BETAPOOL_MAX_WORKERS": "1"},
                                                  timeout=SPIN_TIMEOUT)
                self.assertEqual(out["results"], want["results"], f"{label}: results changed")
                self.assertEqual(out["seen"], [want["results"][0]], f"{label}: spinner saw {out['seen']}")
                procs = of(recs, "process")
                self.assertEqual([r for r in procs if r["k"] != 1], [], f"{label}: K forced to 1")
                ex = recs[-1]
                note(f"spin-on-flag {label}: {took:.2f} s under auto with K=1 (program "
                     f"{out['seconds']} s; without the shim {want['seconds']} s); parks {ex['parks']}, "
                     f"park_overruns {ex['park_overruns']}")

    # d ---------------------------------------------------------------------
    def sigint_run(self, py, preload, log=None):
        """(exit status, stdout, stderr, seconds from the signal to the
        KeyboardInterrupt caught, as the program's own clock says)."""
        env = common.shim_env({"BETAPOOL_LOG": log} if preload else None,
                              preload=preload)
        p = subprocess.Popen([py, wl("auto_sigint.py"), "16"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        ready, _, _ = select.select([p.stdout], [], [], 20)
        self.assertTrue(ready, "workload never became ready")
        self.assertEqual(p.stdout.readline(), "ready\n")
        time.sleep(1.0)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail(f"still running 10 s after SIGINT (preload {preload}); stderr {err[-2000:]}")
        words = out.split()
        latency = float(words[1]) - sent if len(words) == 2 and words[0] == "interrupted" else None
        return p.returncode, out, err, latency

    def test_sigint_reaches_cpu_bound_program(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                rc0, out0, err0, lat0 = self.sigint_run(py, False)
                self.assertEqual(rc0, 0, f"without the shim: {out0!r} {err0[-2000:]}")
                log = os.path.join(tempfile.mkdtemp(prefix=label + "-sigint-", dir=self.tmp), "run.jsonl")
                rc, out, err, lat = self.sigint_run(py, True, log)
                self.assertEqual(rc, rc0, f"{label}: exit status {rc} (without the shim {rc0}): "
                                 f"{err[-2000:]}")
                self.assertIsNotNone(lat, f"{label}: output {out!r}; stderr {err[-2000:]}")
                self.assertLess(lat, 1.0, f"{label}: KeyboardInterrupt caught {lat:.3f} s after "
                                f"SIGINT (without the shim {lat0:.3f} s)")
                recs = common.read_log(log)
                self.check_shape(label, recs)
                self.check_auto_log(label, recs)
                self.assertGreater(recs[-1]["parks"], 0, f"{label}: the gate never parked: {brief(recs)}")
                note(f"SIGINT {label}: caught after {lat * 1000:.1f} ms under auto "
                     f"(without the shim {lat0 * 1000:.1f} ms); parks {recs[-1]['parks']}")

    # e ---------------------------------------------------------------------
    def test_metrics_api_through_ctypes(self):
        for label, py in self.each_python():
            with self.subTest(python=label, shim=False):
                cp = run([py, wl("auto_metrics.py"), "probe"], preload=False, timeout=60)
                self.assertEqual(cp.returncode, 0, cp.stderr[-2000:])
                probe = self.last_json(cp, "probe")
                self.assertFalse(probe["get_metrics"], f"{label}: betapool_get_metrics without the shim")
                self.assertFalse(probe["version"], f"{label}: betapool_version without the shim")
            with self.subTest(python=label, shim=True):
                cp, out, recs, took = self.logged(
                    label, py, [wl("auto_metrics.py"), "read", str(METRIC_THREADS)] + list(METRIC_DELAYS))
                self.check_metrics(label, out, recs)

    def check_metrics(self, label, out, recs):
        start, opts = recs[0], recs[0]["options"]
        size = out["layout"]["sizeof"]
        self.assertEqual(out["version"], start["version"], f"{label}: betapool_version()")
        self.assertEqual(out["null_rc"], -1, f"{label}: betapool_get_metrics(NULL, ...)")
        short = out["short"]
        self.assertEqual((short["rc"], short["size"], short["mode"], short["gil_found"]),
                         (12, 12, MODE_AUTO, 1), f"{label}: a 12-byte call: {short}")
        self.assertEqual((short["k"], short["min_workers"]), (-7, -7),
                         f"{label}: a 12-byte call wrote past its size: {short}")
        procs = of(recs, "process")[:-1]   # the last one is the exit's
        why = brief(recs)
        prev_samples = 0
        for i, m in enumerate(out["reads"]):
            what = f"{label} read {i + 1}: {json.dumps(m)}"
            self.assertEqual(m["rc"], size, what)
            self.assertEqual(m["size"], size, what)
            self.assertEqual(m["mode"], MODE_AUTO, what)
            self.assertEqual(m["gil_found"], 1, what)
            self.assertEqual((m["min_workers"], m["max_workers"]),
                             (opts["min_workers"], opts["max_workers"]), what)
            self.assertTrue(m["min_workers"] <= m["k"] <= m["max_workers"], what)
            self.assertGreater(m["vetoes"], 0, f"{what}\n{why}")
            self.assertGreater(m["samples"], prev_samples, what)
            self.assertGreaterEqual(m["threads_started"], METRIC_THREADS + 1, what)
            prev_samples = n = m["samples"]

            # By tick: the metrics are published after each tick's records
            # are written, so they are those of the first `samples` ticks; a
            # read during tick n+1 may find its records already written.
            self.assertLessEqual(n, len(procs), f"{what}: more samples than process records")
            end = next(j for j, r in enumerate(recs) if r is procs[n]) if n < len(procs) else len(recs)
            upto = recs[:end]
            counts = decision_counts(upto)
            self.assertEqual((m["vetoes"], m["scale_ups"], m["scale_downs"]),
                             (counts["veto"], counts["scale_up"], counts["scale_down"]),
                             f"{what}\nlog's decisions in the first {n} ticks: {counts}")
            ks = [r["k_after"] for r in of(upto, "decision")] or [procs[n - 1]["k"]]
            nxt = [r["k_after"] for r in of(recs[end:], "decision")[:1]]
            self.assertIn(m["k"], {ks[-1]} | set(nxt), f"{what}: k; log's K after tick {n}: {ks[-1]}")

            # By time: the call was made between t_lo and t_hi in the log's
            # clock (the workload's bounds, from /proc's start times).
            self.assertIsNotNone(m["t_lo"], f"{what}: the shim's thread was not found")
            t_lo, t_hi = m["t_lo"] - T_SLACK_LO, m["t_hi"] + T_SLACK_HI
            self.assertLessEqual(procs[n - 1]["t"], t_hi, f"{what}: tick {n} of the log is later "
                                 f"than the call; the clocks disagree")
            if n < len(procs):
                self.assertGreaterEqual(procs[n]["t"], t_lo, f"{what}: tick {n + 1} of the log is "
                                        f"earlier than the call, yet not counted")
            decs = of(recs, "decision")
            for key, action in (("vetoes", "veto"), ("scale_ups", "scale_up")):
                lo = sum(r["action"] == action and r["t"] <= t_lo for r in decs)
                hi = sum(r["action"] == action and r["t"] <= t_hi for r in decs)
                self.assertTrue(lo <= m[key] <= hi, f"{what}: {key} {m[key]}; the log has {lo} "
                                f"{action} up to t_lo and {hi} up to t_hi")
            before = [r for r in procs if r["t"] <= t_hi]
            self.assertEqual(m["k"], before[-1]["k"], f"{what}: k; latest process record before "
                             f"the call: {json.dumps(before[-1])}")
            note(f"metrics {label} read {i + 1}: t {m['t_lo']:.3f}-{m['t_hi']:.3f} s, "
                 f"samples {n}, k {m['k']}, vetoes {m['vetoes']} (log {counts['veto']}), "
                 f"scale_ups {m['scale_ups']}, parks {m['parks']}, overruns {m['park_overruns']}, "
                 f"beta_io_smoothed {m['beta_io_smoothed']:.3f}")

    def test_metrics_struct_matches_header(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler to read include/betapool.h's layout")
        label, py = next(self.each_python())
        cp = run([py, wl("auto_metrics.py"), "probe"], preload=False, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr[-2000:])
        layout = self.last_json(cp, "probe")["layout"]
        d = tempfile.mkdtemp(prefix="layout-", dir=self.tmp)
        src = os.path.join(d, "layout.c")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\n#include <stddef.h>\n#include "betapool.h"\n'
                    "int main(void) {\n"
                    '    printf("sizeof %zu\\n", sizeof(struct betapool_metrics));\n')
            for name in layout["offsets"]:
                f.write(f'    printf("{name} %zu\\n", offsetof(struct betapool_metrics, {name}));\n')
            f.write("    return 0;\n}\n")
        exe = os.path.join(d, "layout")
        cp = subprocess.run([cc, "-I", os.path.join(common.ROOT, "include"), "-o", exe, src],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, f"the ctypes fields are not the header's: {cp.stderr}")
        got = dict(line.split() for line in subprocess.run([exe], capture_output=True, text=True,
                                                           timeout=10).stdout.splitlines())
        self.assertEqual(int(got.pop("sizeof")), layout["sizeof"])
        self.assertEqual({k: int(v) for k, v in got.items()}, layout["offsets"])

    # f ---------------------------------------------------------------------
    def test_observe_never_decides_or_parks(self):
        args = [wl("auto_cpu_pool.py"), str(CPU_THREADS), str(CPU_ITERS)]
        for label, py in self.each_python():
            with self.subTest(python=label):
                want, _ = self.bare(py, args)
                cp, out, recs, took = self.logged(label, py, args, mode="observe")
                self.assertEqual(recs[0]["mode"], "observe")
                self.assertEqual(out["result"], want["result"], f"{label}: the result changed")
                self.assertEqual(of(recs, "decision"), [], f"{label}: decisions in observe mode\n"
                                 f"{excerpt(of(recs, 'decision'))}")
                self.assertEqual([r for r in of(recs, "process") if r.get("parked", 0) > 0], [],
                                 f"{label}: parked in observe mode")
                parked = [r for r in of(recs, "sample") + of(recs, "thread_exit")
                          if r.get("parked_ms", 0.0) > 0]
                self.assertEqual(parked, [], f"{label}: parked_ms in observe mode\n{excerpt(parked)}")
                ex = recs[-1]
                self.assertFalse(ex.get("parks"), f"{label}: exit parks {ex.get('parks')}")
                self.assertFalse(any((ex.get("decisions") or {}).values()), json.dumps(ex.get("decisions")))

    # g ---------------------------------------------------------------------
    def test_executor_thread_start_never_stalls(self):
        args = [wl("auto_submit.py"), str(SUBMIT_WORKERS), str(SUBMIT_TASKS)]
        for label, py in self.each_python():
            with self.subTest(python=label):
                want, bare_s = self.bare(py, args, timeout=60)
                cp, out, recs, took = self.logged(label, py, args, timeout=60)
                self.assertEqual(out["result"], sum(i * i for i in range(SUBMIT_TASKS)))
                self.assertEqual(out["result"], want["result"])
                self.assertLessEqual(out["seconds"], 5 * want["seconds"] + 1.0,
                                     f"{label}: {out['seconds']} s under auto, "
                                     f"{want['seconds']} s without the shim")
                ex = recs[-1]
                note(f"submit {label}: {out['seconds']:.3f} s under auto, {want['seconds']:.3f} s "
                     f"without; process {took:.2f} s vs {bare_s:.2f} s; threads {ex['threads_started']}, "
                     f"parks {ex['parks']}, overruns {ex['park_overruns']}")


if __name__ == "__main__":
    unittest.main()
