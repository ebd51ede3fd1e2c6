"""The BetaPool seed's API in our `betapool` package (docs/seed-api.md), on
every Python present, with libbetapool.so preloaded and without:

- the seed's documented examples (seed_examples.py) run unchanged;
- the interface: names, defaults, validation, TaskMetrics' clamp and
  to_dict, MetricsCollector's figures and thread safety, the workload
  generators' results, shutdown, the one warning of a pool that cannot see
  the GIL; `betapool.metrics()` still works beside the seed's
  `betapool.metrics` module;
- preloaded, the blocking ratio sees the GIL: 16 pure-Python CPU workers
  report <= 0.3 where the seed's 1 - cpu/wall, over the same tasks, says
  >= 0.7 (as it does without the shim), and the pool never grows;
- preloaded, scaling down retires threads: a pool grown to 12 by sleeping
  tasks shrinks to 2 live workers once its tasks compute (the seed lowered
  a cap and kept its threads).
"""
import json
import os
import subprocess
import tempfile
import unittest

import common
import seed_examples

PACKAGE_PARENT = os.path.join(common.ROOT, "python")

# What the seed's examples leave to their reader: a task, its arguments, and
# the imports made by the blocks before them in the same document.
PRELUDE = """
import time
from betapool import AdaptiveThreadPoolExecutor, ControllerConfig

def my_task(arg=0, *more):
    time.sleep(0.002)
    return arg

task = task_function = my_task
args = list(range(20))
arg1, arg2 = 1, 2
"""

# Runs every example named on the command line (index in EXAMPLES), each in
# a fresh namespace, and prints one JSON line per example.
RUN_EXAMPLES = r"""
import contextlib, io, json, sys, traceback
sys.path.insert(0, sys.argv[1])
import seed_examples
prelude = sys.argv[2]
for i in map(int, sys.argv[3:]):
    where, line, code, _ = seed_examples.EXAMPLES[i]
    out = io.StringIO()
    ns = {"__name__": "__main__"}
    error = None
    try:
        with contextlib.redirect_stdout(out):
            exec(prelude, ns)
            exec(compile(code, f"{where}:{line}", "exec"), ns)
    except BaseException as e:
        error = f"{type(e).__name__}: {e}"
        tb = traceback.format_exc()
    else:
        tb = None
    print(json.dumps({"i": i, "error": error, "out": out.getvalue(), "tb": tb}), flush=True)
"""

# The interface, checked from inside one process; prints a JSON report.
INTERFACE = r"""
import concurrent.futures, inspect, io, json, logging, math, threading, time
import betapool
import betapool.metrics as metrics_module
from betapool.metrics import TaskMetrics as TM_from_module
from betapool.executor import ControllerConfig as CC_from_module
from betapool.workloads import WorkloadGenerator as WG_from_module
from betapool import *

r = {}
def sig(obj):
    # names and defaults (annotations print differently across versions)
    return [[p.name, None if p.default is p.empty else repr(p.default)]
            for p in inspect.signature(obj).parameters.values()]
r["signatures"] = {
    "AdaptiveThreadPoolExecutor": sig(AdaptiveThreadPoolExecutor),
    "StaticThreadPoolExecutor": sig(StaticThreadPoolExecutor),
    "ControllerConfig": sig(ControllerConfig),
    "TaskMetrics": sig(TaskMetrics),
    "MetricsCollector": sig(MetricsCollector),
    "ControllerState": sig(ControllerState),
    "PoissonArrivalGenerator": sig(PoissonArrivalGenerator),
    "BurstArrivalGenerator": sig(BurstArrivalGenerator),
    "io_task": sig(WorkloadGenerator.io_task),
    "cpu_task_python": sig(WorkloadGenerator.cpu_task_python),
    "mixed_task": sig(WorkloadGenerator.mixed_task),
    "fibonacci_task": sig(WorkloadGenerator.fibonacci_task),
}
r["same_objects"] = [TM_from_module is TaskMetrics, CC_from_module is ControllerConfig,
                     WG_from_module is WorkloadGenerator,
                     metrics_module.MetricsCollector is MetricsCollector]
# importing the seed's betapool.metrics module left betapool.metrics() working
r["shim_metrics"] = betapool.metrics() is not None
r["active"] = betapool.active()

errors = []
for kw in ({"min_workers": 0}, {"min_workers": 5, "max_workers": 4}):
    try:
        AdaptiveThreadPoolExecutor(**kw).shutdown()
        errors.append(None)
    except ValueError as e:
        errors.append("ValueError")
r["value_errors"] = errors

tm = TaskMetrics("t", 1.0, 0.25, 1.7, 5.0)
r["clamp"] = [tm.blocking_ratio, TaskMetrics("t", 1.0, 2.0, -0.4, 5.0).blocking_ratio]
r["to_dict"] = TaskMetrics("t", 1.0, 0.3, 0.7, 5.0, success=False, error_message="x").to_dict()

c = MetricsCollector(window_size=3)
r["empty"] = [c.get_recent_blocking_ratio(), c.get_aggregated_metrics().avg_blocking_ratio,
              c.get_latency_percentiles()]
for i, b in enumerate((0.1, 0.2, 0.3, 0.4, 0.5)):
    c.record(TaskMetrics(f"t{i}", 0.01 * (i + 1), 0.0, b, time.time()))
r["window"] = [c.get_recent_blocking_ratio(), c.get_recent_blocking_ratio(5), c.total_tasks,
               c.get_latency_percentiles(5), len(c.export_to_list()),
               c.export_to_list()[0]["task_id"]]
agg = c.get_aggregated_metrics()
r["aggregated"] = [agg.task_count, agg.avg_blocking_ratio, agg.p50_latency]
shared = MetricsCollector()
def record_many():
    for i in range(2000):
        shared.record(TaskMetrics("x", 1.0, 0.5, 0.5, 0.0))
ts = [threading.Thread(target=record_many) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
r["thread_safe"] = [shared.total_tasks, len(shared.export_to_list())]

r["workloads"] = [
    WorkloadGenerator.io_task(5.0)(),
    WorkloadGenerator.cpu_task_python(1000)(),
    sum(math.sin(i) * math.cos(i) for i in range(1000)),
    WorkloadGenerator.fibonacci_task(20)(),
    WorkloadGenerator.mixed_task(1.0, 100)(),
    sorted(WorkloadGenerator.rag_pipeline_task(1, 1, 1, 10, 10)()["stages"]),
    WorkloadGenerator.cpu_task_python(0)(),
]
burst = BurstArrivalGenerator(quiet_rate_per_second=0.0)
first = burst.get_current_rate()
burst.cycle_start = time.time() - 5.5          # into the 10 s quiet part
r["burst"] = [first, burst.get_current_rate(), burst.get_next_interarrival_time(),
              burst.burst_rate, burst.quiet_duration, burst.in_burst]
p = PoissonArrivalGenerator(rate_per_second=1000.0)
gaps = [p.get_next_interarrival_time() for _ in range(2000)]
r["poisson_mean"] = sum(gaps) / len(gaps)

with AdaptiveThreadPoolExecutor(min_workers=2, max_workers=4) as ex:
    f = ex.submit(lambda x, y=1: x + y, 40, y=2)
    r["submit"] = f.result()
    r["map"] = list(ex.map(pow, [2, 3], [5, 2]))
    bad = ex.submit(int, "nope")
    try:
        bad.result()
        r["raised"] = None
    except ValueError:
        r["raised"] = "ValueError"
    ex.submit(time.sleep, 0.01).result()
    m = ex.get_metrics()
    r["metrics_keys"] = sorted(m)
    r["totals"] = [m["total_tasks"], ex.get_current_thread_count(), m["gil_aware"],
                   isinstance(ex, concurrent.futures.Executor)]
    r["failed_recorded"] = [d["success"] for d in ex._metrics_collector.export_to_list()]
try:
    ex.submit(int, "1")
    r["after_shutdown"] = None
except RuntimeError:
    r["after_shutdown"] = "RuntimeError"
r["threads_left"] = [t.name for t in threading.enumerate() if t.name.startswith(
    ("AdaptiveThreadPoolExecutor", "BetaPool-Monitor"))]

with StaticThreadPoolExecutor(workers=3) as st:
    list(st.map(abs, range(-5, 5)))
    r["static"] = [sorted(st.get_metrics()), st.get_current_thread_count(),
                   len(st.get_experiment_log())]

# The one warning of a pool that cannot see the GIL: with enable_logging,
# once per process, and only then.
stream = io.StringIO()
handler = logging.StreamHandler(stream)
logging.getLogger("betapool").addHandler(handler)
AdaptiveThreadPoolExecutor(min_workers=1, max_workers=2).shutdown()
quiet = stream.getvalue()
for _ in range(2):
    AdaptiveThreadPoolExecutor(min_workers=1, max_workers=2, enable_logging=True).shutdown()
r["warnings"] = [quiet, stream.getvalue().count("counts waiting for the GIL")]
print(json.dumps(r))
"""

# 16 pure-Python CPU workers: what the pool's blocking ratio says.
SIXTEEN = r"""
import json
from betapool import AdaptiveThreadPoolExecutor, ControllerConfig, WorkloadGenerator
config = ControllerConfig(monitor_interval_sec=0.1, stabilization_window_sec=0.2,
                          cpu_upper_threshold=101.0)
# Tasks of many switch intervals (~80 ms alone on Debian's 3.11): shorter
# ones often run between two switches and wait for the GIL only outside the
# task, where neither formula sees it (100,000 iterations: 1 - cpu/wall
# measured 0.49-0.96 from run to run).
task = WorkloadGenerator.cpu_task_python(400000)
with AdaptiveThreadPoolExecutor(min_workers=16, max_workers=64, config=config) as ex:
    for f in [ex.submit(task) for _ in range(64)]:
        f.result()
    m = ex.get_metrics()
    h = ex.get_decision_history()
print(json.dumps({"metrics": m, "decisions": [d["decision"] for d in h],
                  "history_ratios": [d["blocking_ratio"] for d in h]}))
"""

# Sleeping tasks grow the pool to 12; computing ones should shrink it.
RETIRE = r"""
import json, threading, time
from betapool import AdaptiveThreadPoolExecutor, ControllerConfig, WorkloadGenerator
config = ControllerConfig(monitor_interval_sec=0.1, stabilization_window_sec=0.2,
                          warmup_task_count=5, scale_down_step=2, cpu_upper_threshold=101.0)
io, cpu = WorkloadGenerator.io_task(20.0), WorkloadGenerator.cpu_task_python(50000)
def workers():
    return sum(t.name.startswith("AdaptiveThreadPoolExecutor") for t in threading.enumerate())
with AdaptiveThreadPoolExecutor(min_workers=2, max_workers=12, config=config) as ex:
    end = time.monotonic() + 10
    while time.monotonic() < end and workers() < 12:
        for f in [ex.submit(io) for _ in range(24)]:
            f.result()
    grown = [ex.get_current_thread_count(), workers()]
    end = time.monotonic() + 8
    while time.monotonic() < end and ex.get_current_thread_count() > 2:
        for f in [ex.submit(cpu) for _ in range(8)]:
            f.result()
    time.sleep(0.3)      # idle workers woken to retire
    shrunk = [ex.get_current_thread_count(), workers(), ex.get_metrics()["live_threads"]]
    decisions = [d["decision"] for d in ex.get_decision_history()]
print(json.dumps({"grown": grown, "shrunk": shrunk, "gil_aware": ex.gil_aware,
                  "scale_downs": decisions.count("scaleDown")}))
"""


# The seed's parameters, in order, with their defaults (repr; None: none).
SIGNATURES = {
    "AdaptiveThreadPoolExecutor": [("min_workers", "4"), ("max_workers", "64"),
                                   ("config", "None"), ("enable_logging", "False")],
    "StaticThreadPoolExecutor": [("workers", "4")],
    "ControllerConfig": [("monitor_interval_sec", "0.5"), ("beta_high_threshold", "0.7"),
                         ("beta_low_threshold", "0.3"), ("scale_up_step", "2"),
                         ("scale_down_step", "1"), ("cpu_upper_threshold", "85.0"),
                         ("cpu_lower_threshold", "50.0"), ("stabilization_window_sec", "2.0"),
                         ("warmup_task_count", "10")],
    "TaskMetrics": [("task_id", None), ("wall_time", None), ("cpu_time", None),
                    ("blocking_ratio", None), ("timestamp", None), ("success", "True"),
                    ("error_message", "None")],
    "MetricsCollector": [("window_size", "100"), ("max_history", "10000")],
    "ControllerState": [("current_threads", None), ("last_scale_time", "<factory>"),
                        ("scale_up_count", "0"), ("scale_down_count", "0"),
                        ("decision_history", "<factory>")],
    "PoissonArrivalGenerator": [("rate_per_second", None)],
    "BurstArrivalGenerator": [("burst_rate_per_second", "100.0"),
                              ("quiet_rate_per_second", "10.0"), ("burst_duration_sec", "5.0"),
                              ("quiet_duration_sec", "10.0")],
    "io_task": [("duration_ms", "50.0")],
    "cpu_task_python": [("iterations", "100000")],
    "mixed_task": [("io_duration_ms", "50.0"), ("cpu_iterations", "10000")],
    "fibonacci_task": [("n", "30")],
}


class SeedApiTest(common.ShimTestCase):

    def run_py(self, python, code, argv=(), preload=False, timeout=180):
        env = {"PYTHONPATH": PACKAGE_PARENT}
        with tempfile.TemporaryDirectory(prefix="betapool-seed-") as cwd:
            cp = common.run([python, "-c", code, *argv], extra_env=env, preload=preload,
                            timeout=timeout, cwd=cwd)
        self.assertEqual(cp.returncode, 0, cp.stdout[-3000:] + cp.stderr[-3000:])
        return cp

    def report(self, python, code, preload):
        cp = self.run_py(python, code, preload=preload)
        return json.loads(cp.stdout.strip().splitlines()[-1])

    def test_seed_examples_run_unchanged(self):
        here = os.path.dirname(os.path.abspath(__file__))
        runnable = [i for i, ex in enumerate(seed_examples.EXAMPLES) if ex[3] is None]
        self.assertGreaterEqual(len(runnable), 20)
        for label, py in self.each_python():
            has_numpy = subprocess.run([py, "-c", "import numpy"], capture_output=True,
                                       timeout=60).returncode == 0
            for preload in (False, True):
                with self.subTest(python=label, shim=preload):
                    cp = self.run_py(py, RUN_EXAMPLES, [here, PRELUDE] + [str(i) for i in runnable],
                                     preload=preload, timeout=300)
                    results = [json.loads(line) for line in cp.stdout.splitlines()
                               if line.startswith("{")]
                    self.assertEqual([r["i"] for r in results], runnable)
                    for r in results:
                        where, line, code, _ = seed_examples.EXAMPLES[r["i"]]
                        if "cpu_task_numpy" in code and not has_numpy:
                            # the seed's documented behaviour without NumPy
                            self.assertEqual(r["error"], "ImportError: NumPy is required for "
                                             "cpu_task_numpy", f"{where}:{line}")
                            continue
                        self.assertIsNone(r["error"], f"{where}:{line}: {r['tb']}")
                    outs = {seed_examples.EXAMPLES[r["i"]][:2]: r["out"] for r in results}
                    self.assertIn("Current threads: 4\nBlocking ratio: ", outs[("README.md", 41)])
                    self.assertEqual(outs[("Usage.md", 52)], "Result: 84\n")
                    self.assertEqual(outs[("Usage.md", 68)], "Processed 100 items.\n")
                    self.assertRegex(outs[("Usage.md", 344)], r"Adaptive: \d+\.\d\ds, throughput=")

    def test_import_stays_light(self):
        # `import betapool` (every `betapool` command) loads none of the
        # seed's modules; the first use of a name does.
        code = ("import sys, betapool; before = sorted(m for m in ('betapool.executor', "
                "'betapool.metrics', 'betapool.workloads', 'concurrent.futures') if m in "
                "sys.modules); betapool.ControllerConfig; print(before, betapool.metrics(), "
                "'betapool.executor' in sys.modules)")
        for preload in (False, True):
            with self.subTest(shim=preload):
                python = next((p for _, p in common.pythons() if p), None)
                if python is None:
                    self.skipTest("no Python of common.pythons() is installed")
                cp = self.run_py(python, code, preload=preload)
                before, rest = cp.stdout.split("] ", 1)
                self.assertEqual(before + "]", "[]")
                self.assertTrue(rest.strip().endswith("True"), rest)
                self.assertEqual(rest.startswith("None"), not preload, rest)

    def test_interface(self):
        for label, py in self.each_python():
            for preload in (False, True):
                with self.subTest(python=label, shim=preload):
                    r = self.report(py, INTERFACE, preload)
                    s = {k: [tuple(p) for p in v] for k, v in r["signatures"].items()}
                    for name, params in SIGNATURES.items():
                        self.assertEqual(s[name][:len(params)], params, name)
                    self.assertEqual(r["same_objects"], [True] * 4)
                    self.assertEqual((r["shim_metrics"], r["active"]), (preload, preload))
                    self.assertEqual(r["value_errors"], ["ValueError", "ValueError"])
                    self.assertEqual(r["clamp"], [1.0, 0.0])
                    self.assertEqual(r["to_dict"], {
                        "task_id": "t", "wall_time": 1.0, "cpu_time": 0.3, "blocking_ratio": 0.7,
                        "timestamp": 5.0, "success": False, "error_message": "x"})
                    self.assertEqual(r["empty"], [0.5, 0.5, {"p50": 0.0, "p90": 0.0, "p99": 0.0}])
                    recent, all5, total, lat, kept, first = r["window"]
                    self.assertAlmostEqual(recent, 0.4)         # the last 3 of 5
                    self.assertAlmostEqual(all5, 0.3)
                    self.assertEqual((total, kept, first), (5, 5, "t0"))
                    self.assertAlmostEqual(lat["p50"], 0.03)
                    self.assertAlmostEqual(lat["p90"], 0.046)   # between the 4th and 5th
                    self.assertEqual(r["aggregated"][0], 3)
                    self.assertAlmostEqual(r["aggregated"][1], 0.4)
                    self.assertAlmostEqual(r["aggregated"][2], 0.04)
                    self.assertEqual(r["thread_safe"], [16000, 10000])
                    w = r["workloads"]
                    self.assertIs(w[0], True)
                    self.assertEqual(w[1], w[2])
                    self.assertEqual(w[3], 6765)
                    self.assertIsInstance(w[4], float)
                    self.assertEqual(w[5], ["llm_generation", "network_receive", "reranking",
                                            "tokenization", "vector_db"])
                    self.assertEqual(w[6], 0.0)
                    self.assertEqual(r["burst"], [100.0, 0.0, 1.0, 100.0, 10.0, True])
                    self.assertLess(abs(r["poisson_mean"] - 0.001), 0.0002)
                    self.assertEqual((r["submit"], r["map"], r["raised"]), (42, [32, 9], "ValueError"))
                    for key in ("current_threads", "min_workers", "max_workers", "total_tasks",
                                "avg_blocking_ratio", "throughput", "p50_latency", "p99_latency",
                                "scale_up_count", "scale_down_count", "live_threads", "gil_aware"):
                        self.assertIn(key, r["metrics_keys"])
                    self.assertEqual(r["totals"], [5, 2, preload, True])
                    self.assertEqual(sorted(r["failed_recorded"]), [False, True, True, True, True])
                    self.assertEqual(r["after_shutdown"], "RuntimeError")
                    self.assertEqual(r["threads_left"], [])
                    self.assertEqual(r["static"][1:], [3, 10])
                    for key in ("current_threads", "total_tasks", "avg_blocking_ratio",
                                "throughput", "p50_latency", "p99_latency"):
                        self.assertIn(key, r["static"][0])
                    quiet, warned = r["warnings"]
                    self.assertEqual(quiet, "")
                    self.assertEqual(warned, 0 if preload else 1)

    def test_sixteen_cpu_workers_gil_truthful(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                r = self.report(py, SIXTEEN, preload=True)
                m = r["metrics"]
                self.assertIs(m["gil_aware"], True)
                self.assertEqual(m["total_tasks"], 64)
                # The same tasks by the seed's formula: GIL waiting counted as blocking.
                self.assertGreaterEqual(m["avg_cpu_blocking_ratio"], 0.7, m)
                self.assertLessEqual(m["avg_blocking_ratio"], 0.3, m)
                self.assertTrue(r["decisions"], r)
                self.assertNotIn("scaleUp", r["decisions"], r)
                self.assertLessEqual(max(r["history_ratios"]), 0.3, r)
                self.assertEqual((m["current_threads"], m["live_threads"]), (16, 16))
            with self.subTest(python=label, shim=False):
                m = self.report(py, SIXTEEN, preload=False)["metrics"]
                self.assertIs(m["gil_aware"], False)
                # the seed's formula, and what it says of the same pool
                self.assertEqual(m["avg_blocking_ratio"], m["avg_cpu_blocking_ratio"])
                self.assertGreaterEqual(m["avg_blocking_ratio"], 0.7, m)

    def test_scale_down_retires_threads(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                r = self.report(py, RETIRE, preload=True)
                self.assertIs(r["gil_aware"], True)
                self.assertEqual(r["grown"], [12, 12], r)
                self.assertEqual(r["shrunk"], [2, 2, 2], r)
                self.assertGreaterEqual(r["scale_downs"], 5, r)
        # Without the shim, on Debian's Python only: the seed's formula
        # counts the workers' GIL waits as blocking, and the pool keeps them.
        py = dict(common.pythons()).get("debian-3.11")
        if py:
            with self.subTest(python="debian-3.11", shim=False):
                r = self.report(py, RETIRE, preload=False)
                self.assertIs(r["gil_aware"], False)
                self.assertEqual(r["grown"], [12, 12], r)
                self.assertEqual(r["shrunk"][1], r["shrunk"][0], r)


if __name__ == "__main__":
    unittest.main()
