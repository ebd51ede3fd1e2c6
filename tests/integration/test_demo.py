"""scripts/demo, README's first command, must keep working: run it in its
quick mode and check that it measured something real (every case has a
stock and a betapool run, the shim mapped only in the latter, figures that
parse and make sense) and that betapool's reports read the log it wrote."""
import json
import os
import re
import shutil
import subprocess
import tempfile

from common import LIB, ROOT, ShimTestCase, shim_env

CASES = ("seed-256", "lag-32", "sock-main-4")
NUM = r"[\d,]+(?:\.\d+)?"


class DemoTest(ShimTestCase):
    def test_quick_demo(self):
        tmp = tempfile.mkdtemp(prefix="betapool-demo-test-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        out_json = os.path.join(tmp, "demo.json")
        cp = subprocess.run([os.path.join(ROOT, "scripts", "demo"), "--quick", "--lib", LIB,
                             "--out", os.path.join(tmp, "out"), "--json", out_json],
                            env=shim_env(preload=False), capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
        text = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 0, text[-4000:])
        # Progress while it runs: one line per case and run.
        for case in CASES:
            self.assertRegex(cp.stderr, rf"\[\d/3 {case}\] pair 1/1 stock: ")
            self.assertRegex(cp.stderr, rf"\[\d/3 {case}\] pair 1/1 default: ")
        # The table: each case's throughput row with two numbers and a ratio.
        for case, figure in (("seed-256", "tasks/s"), ("lag-32", "lag p99 ms"),
                             ("sock-main-4", "round trips/s")):
            m = re.search(rf"^{case}\s+{re.escape(figure)}\s+({NUM})\s+default\s+({NUM})\s+"
                          rf"({NUM})x \[", cp.stdout, re.M)
            self.assertIsNotNone(m, f"no {case} {figure} row in:\n{cp.stdout}")
            stock, shim, ratio = (float(g.replace(",", "")) for g in m.groups())
            self.assertGreater(stock, 0) if figure != "lag p99 ms" else self.assertGreaterEqual(stock, 0)
            self.assertAlmostEqual(ratio, shim / stock if stock else ratio, delta=0.01 + 0.02 * ratio)

        with open(out_json) as f:
            res = json.load(f)
        self.assertEqual(sorted(res["cases"]), sorted(CASES))
        seed = res["cases"]["seed-256"]["runs"]
        for side, mapped in (("stock", False), ("default", True)):
            self.assertEqual(len(seed[side]), 1)
            r = seed[side][0]
            self.assertIs(r["preloaded"], mapped)
            # 3,000 tasks on 2 CPUs: at least 100 tasks/s, wall under a minute.
            self.assertGreater(r["tasks_per_s"], 100)
            self.assertGreater(r["cpu_s"], 0)
            self.assertGreater(r["ctx"], 0)
            self.assertLessEqual(r["in_p50_ms"], r["in_p99_ms"])
        lag = res["cases"]["lag-32"]["runs"]["default"][0]
        self.assertGreaterEqual(lag["sleeps"], 1)   # it slept while the pool ran
        self.assertLessEqual(lag["lag_p50_ms"], lag["lag_p99_ms"])
        sock = res["cases"]["sock-main-4"]["runs"]["stock"][0]
        self.assertGreater(sock["rt_per_s"], 0)
        self.assertGreater(sock["cpu_msteps_per_s"], 0)

        # What the log says: betapool's reports read the default run's log.
        self.assertEqual(res["log_tool"], {"summary": 0, "decisions": 0, "plot": 0})
        self.assertEqual(len(res["logs"]), 3)      # one per case: the default run logs
        with open(res["logs"][0]) as f:
            recs = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(recs[0]["event"], "start")
        self.assertEqual(recs[-1]["event"], "exit")
        self.assertIn("What betapool's log says", cp.stdout)
        self.assertRegex(cp.stdout, r"process over time \(\d+ intervals\)")


class BenchEntryPointsTest(ShimTestCase):
    """scripts/bench and scripts/bench-overhead share the demo's runner: each
    entry point must still run a tiny case end to end and report figures."""

    def run_json(self, argv):
        tmp = tempfile.mkdtemp(prefix="betapool-bench-test-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        out = os.path.join(tmp, "out.json")
        cp = subprocess.run(argv + ["--lib", LIB, "--json", out], env=shim_env(preload=False),
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
        self.assertEqual(cp.returncode, 0, (cp.stdout + cp.stderr)[-4000:])
        with open(out) as f:
            return cp, json.load(f)

    def test_matrix_quick(self):
        cp, res = self.run_json(["python3", "scripts/bench", "matrix", "--quick",
                                 "--cases", "loop-1t,socket-4t,read64k-1t"])
        self.assertEqual(res["failed"], {})
        if os.access("/usr/bin/python3", os.X_OK):  # the matrix's default: Debian's optimized build
            self.assertEqual(res["python"], "/usr/bin/python3")
        for case, key in (("loop-1t", "steps_per_s"), ("socket-4t", "rt_per_s"),
                          ("read64k-1t", "reads_per_s")):
            runs = res["cases"][case]["runs"]
            self.assertIs(runs["stock"][0]["preloaded"], False)
            self.assertIs(runs["default"][0]["preloaded"], True)
            self.assertGreater(runs["default"][0][key], 0)
            self.assertRegex(cp.stdout, rf"(?m)^{case}\s+default\s+")

    def test_seed(self):
        _, res = self.run_json(["python3", "scripts/bench", "seed", "--tasks", "300",
                                "--rounds", "1", "--best", "4", "--shim-threads", "8",
                                "--unpinned-only"])
        (r,) = res["ratios"]
        self.assertEqual((r["pinning"], r["side"], r["threads"]), ("unpinned", "default", 8))
        self.assertEqual(len(r["tasks_per_s_vs_same_t"]), 1)
        self.assertGreater(r["tasks_per_s_vs_same_t"][0], 0)

    def test_overhead(self):
        _, res = self.run_json(["python3", "scripts/bench-overhead", "--scale", "0.01",
                                "--rounds", "1", "--cases", "loop-1t", "--no-callgrind",
                                "--mode", "default"])
        row = res["cases"]["loop-1t"]
        self.assertIs(row["runs"]["shim"][0]["preloaded"], True)
        self.assertGreater(row["wall_ratio_median_min_max"][0], 0)
