"""Observe mode end to end, on every Python of common.pythons(): the log's
records and figures on workloads whose truth is known (pure CPU, sleep-bound,
a measured CPU/sleep mix, idle pool workers), the shim's invisibility to
Python and to non-Python programs, the options that change what is written,
and the log tool on a real log.

Workloads live in workloads/ and print one JSON line with their pid and the
native ids of their worker threads, so that records are matched by tid."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

from common import BUILD, ROOT, WORKLOADS, ShimTestCase, run

TOOL = os.path.join(ROOT, "scripts", "betapool-log")
CHURN = os.path.join(BUILD, "tests", "pthread_churn")
WORKER_VIA = ("PyThread_start_new_thread", "PyThread_start_joinable_thread", "start_routine")
OPTION_KEYS = ("mode", "log", "interval_ms", "verbose", "stats")
FIGS = ("wall_ms", "cpu_ms", "gil_held_ms", "gil_wait_ms", "idle_ms", "blocked_ms", "parked_ms")


def wl(name):
    return os.path.join(WORKLOADS, name)


def parse_log(path):
    """(records, problems): every line parsed; problems lists the lines that
    are not JSON objects with "event" and "t"."""
    recs, problems = [], []
    with open(path) as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError as e:
                problems.append(f"line {no}: not JSON ({e}): {line[:200]!r}")
                continue
            if not isinstance(r, dict) or "event" not in r or "t" not in r:
                problems.append(f"line {no}: no event/t: {line[:200]!r}")
                continue
            recs.append(r)
    return recs, problems


def sum_figs(rows):
    return {k: sum(r.get(k, 0.0) for r in rows) for k in FIGS}


def beta_io(f):
    """beta_io from (summed) figures, as docs/log-format.md defines it."""
    active = f["wall_ms"] - f["gil_wait_ms"] - f.get("parked_ms", 0.0) - f["idle_ms"]
    return (active - f["gil_held_ms"]) / active if active > 0 else 0.0


def beta(f):
    return 1 - f["cpu_ms"] / f["wall_ms"] if f["wall_ms"] > 0 else 0.0


def excerpt(rows, limit=4):
    return "\n".join(json.dumps(r, sort_keys=True) for r in rows[:limit])


_versions = {}


def python_version(py):
    """platform.python_version() of that interpreter (asked without the shim)."""
    if py not in _versions:
        cp = run([py, "-c", "import platform; print(platform.python_version())"], preload=False)
        _versions[py] = cp.stdout.strip()
    return _versions[py]


class ObserveCase(ShimTestCase):
    """Runs a workload under the shim with a log kept until the class ends,
    and checks the log's shape on every run. Runs ask for observe mode
    explicitly (BETAPOOL_MODE=observe): that is what this module tests,
    whatever the default mode is."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="betapool-observe-")
        cls.cache = {}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def logged(self, label, py, args, extra_env=None, timeout=120):
        """Run; return (completed, out JSON or None, records, log path)."""
        d = tempfile.mkdtemp(prefix=label + "-", dir=self.tmp)
        log = os.path.join(d, "run.jsonl")
        env = {"BETAPOOL_LOG": log, "BETAPOOL_MODE": "observe"}
        env.update(extra_env or {})
        cp = run([py] + list(args), env, timeout=timeout)
        self.assertEqual(cp.returncode, 0, f"{label} {args}: exit {cp.returncode}\n{cp.stderr[-2000:]}")
        out = None
        lines = cp.stdout.strip().splitlines()
        if lines and lines[-1].startswith("{"):
            out = json.loads(lines[-1])
        self.assertTrue(os.path.exists(log), f"{label} {args}: no log written at {log}")
        recs, problems = parse_log(log)
        self.assertEqual(problems, [], f"{label} {args}: bad log lines")
        self.check_shape(label, recs)
        return cp, out, recs, log

    def check_shape(self, label, recs):
        self.assertTrue(recs, f"{label}: empty log")
        self.assertEqual(recs[0]["event"], "start", f"{label}: first record\n{excerpt(recs)}")
        self.assertEqual(recs[-1]["event"], "exit", f"{label}: last record\n{excerpt(recs[-2:])}")
        self.assertEqual(sum(r["event"] == "start" for r in recs), 1, f"{label}: start records")
        self.assertEqual(sum(r["event"] == "exit" for r in recs), 1, f"{label}: exit records")
        ts = [r["t"] for r in recs]
        for i in range(1, len(ts)):
            self.assertGreaterEqual(ts[i], ts[i - 1],
                                    f"{label}: t goes back at record {i + 1}\n"
                                    f"{excerpt(recs[i - 1:i + 1])}")

    def worker_lives(self, label, recs, out):
        """Each worker's figures over its life: its thread_exit record, or,
        for a worker still ending when the exit record was written, its
        entry in that record's list of threads alive. (A joined thread is
        not gone yet: CPython wakes the joiner when the thread's state is
        released, before the thread itself returns, so the main thread can
        finish the interpreter first; on one CPU that happened in 1 of 60
        runs of cpu.py 8.) A worker in neither, or in both, is an error."""
        tids = set(out["workers"])
        self.assertEqual(len(tids), len(out["workers"]), f"{label}: worker tids not distinct")
        lives = [r for r in recs if r["event"] == "thread_exit" and r.get("tid") in tids]
        lives += [r for r in recs[-1].get("threads", []) if r.get("tid") in tids]
        counted = sorted(r["tid"] for r in lives)
        self.assertEqual(len(set(counted)), len(counted), f"{label}: a worker both ended and alive at "
                         f"exit\n{excerpt(lives)}")
        return lives

    def cpu_run(self, label, py, n):
        """The pure-CPU workload at n threads, run once per Python and kept
        (tests 1, 2 and 11 read it)."""
        key = (py, n)
        if key not in self.cache:
            self.cache[key] = self.logged(label, py, [wl("cpu.py"), str(n)])
        return self.cache[key]


class TestObserve(ObserveCase):

    # 1 --------------------------------------------------------------------
    def test_start_and_exit_records(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                cp, out, recs, log = self.cpu_run(label, py, 8)
                s = recs[0]
                self.assertEqual(s.get("schema"), 2, json.dumps(s))
                self.assertIsInstance(s.get("version"), str, json.dumps(s))
                self.assertTrue(s["version"], json.dumps(s))
                self.assertEqual(s.get("pid"), out["pid"], json.dumps(s))
                self.assertEqual(s.get("python"), python_version(py), json.dumps(s))
                self.assertEqual(s.get("gil"), "found", json.dumps(s))
                self.assertIn("pthread_create", s.get("hooks", []), json.dumps(s))
                self.assertEqual(s.get("mode"), "observe", json.dumps(s))
                opts = s.get("options", {})
                for k in OPTION_KEYS:
                    self.assertIn(k, opts, f"option {k} missing: {json.dumps(s)}")
                self.assertEqual(opts.get("mode"), "observe", json.dumps(s))
                self.assertEqual(opts.get("log"), log, json.dumps(s))

    # 2 --------------------------------------------------------------------
    def test_pure_cpu_threads(self):
        for label, py in self.each_python():
            for n in (1, 8, 64):
                with self.subTest(python=label, threads=n):
                    cp, out, recs, log = self.cpu_run(label, py, n)
                    ex = recs[-1]
                    tot = ex["totals"]
                    bio = beta_io(tot)
                    self.assertLessEqual(bio, 0.15, f"process beta_io {bio:.4f} from totals "
                                         f"{json.dumps(tot)}")
                    self.assertAlmostEqual(tot["beta_io"], bio, delta=0.002,
                                           msg=f"logged totals.beta_io vs figures {json.dumps(tot)}")
                    self.assertAlmostEqual(tot["beta"], beta(tot), delta=0.002,
                                           msg=f"logged totals.beta vs figures {json.dumps(tot)}")
                    if n == 8:
                        self.assertGreaterEqual(tot["beta"], 0.5, json.dumps(tot))
                    exits = self.worker_lives(label, recs, out)
                    self.assertEqual(len(exits), n, f"workers in thread_exit records or the exit "
                                     f"record's list: {len(exits)} of {n}\n{excerpt(exits)}")
                    bad = [r for r in exits if r.get("python") is not True or r.get("via") not in WORKER_VIA]
                    self.assertEqual(bad, [], f"worker python/via\n{excerpt(bad)}")
                    self.assertGreaterEqual(ex.get("python_threads", 0), n + 1, json.dumps(
                        {k: v for k, v in ex.items() if k != "threads"}))

    def test_takes_and_cond_waits_add_up(self):
        # Every interval's process record counts the GIL takes and the
        # waits on the GIL's condition made in it; the exit record's
        # totals are their sums. Eight CPU threads take the GIL at least
        # once each, and some take has to wait on the condition for it.
        for label, py in self.each_python():
            with self.subTest(python=label):
                cp, out, recs, log = self.cpu_run(label, py, 8)
                ex = recs[-1]
                procs = [r for r in recs if r["event"] == "process"]
                for key in ("takes", "cond_waits"):
                    self.assertIsInstance(ex.get(key), int, f"exit record's {key}: {excerpt([ex])}")
                    bad = [r for r in procs if not isinstance(r.get(key), int) or r[key] < 0]
                    self.assertEqual(bad, [], f"process records' {key}\n{excerpt(bad)}")
                    self.assertEqual(sum(r[key] for r in procs), ex[key],
                                     f"{key}: process records' sum vs the exit record's")
                self.assertGreaterEqual(ex["takes"], 8, excerpt([ex]))
                self.assertGreaterEqual(ex["cond_waits"], 1, excerpt([ex]))

    def test_gil_held_is_exclusive(self):
        # One thread holds the GIL at a time, so the GIL held time summed
        # over every thread cannot exceed the process's life (exit.t, seconds
        # since the shim started). 2% + 5 ms of slack for clock reads.
        for label, py in self.each_python():
            for n in (8, 64):
                with self.subTest(python=label, threads=n):
                    cp, out, recs, log = self.cpu_run(label, py, n)
                    ex = recs[-1]
                    life_ms = ex["t"] * 1000.0
                    held = ex["totals"]["gil_held_ms"]
                    self.assertLessEqual(held, life_ms * 1.02 + 5.0,
                                         f"GIL held {held:.1f} ms summed over threads in a "
                                         f"process that lived {life_ms:.1f} ms: "
                                         f"{json.dumps(ex['totals'])}")

    # 3 --------------------------------------------------------------------
    def test_sleep_bound_threads(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                cp, out, recs, log = self.logged(label, py, [wl("sleepers.py"), "8", "50", "0.005"])
                exits = self.worker_lives(label, recs, out)
                self.assertEqual(len(exits), 8, excerpt(exits))
                f = sum_figs(exits)
                self.assertGreaterEqual(beta_io(f), 0.85, f"summed worker beta_io "
                                        f"{beta_io(f):.4f}: {json.dumps(f)}\n{excerpt(exits)}")

    # 4 --------------------------------------------------------------------
    def test_known_mix(self):
        # (threads, rounds, loop ms, sleep ms): about 0.5 s of loop CPU.
        for label, py in self.each_python():
            for n, rounds, loop_ms, sleep_ms in ((1, 50, 5, 5), (32, 5, 3, 3)):
                with self.subTest(python=label, threads=n):
                    cp, out, recs, log = self.logged(
                        label, py, [wl("mix.py"), str(n), str(rounds), str(loop_ms), str(sleep_ms)])
                    exits = self.worker_lives(label, recs, out)
                    self.assertEqual(len(exits), n, excerpt(exits))
                    f = sum_figs(exits)
                    got = beta_io(f)
                    why = (f"log's worker beta_io {got:.4f} from {json.dumps(f)}; "
                           f"workload's truth {json.dumps(out)}")
                    # The truth counts each sleep as long as a sleep measured
                    # alone: the wall time around a sleep also holds the wait
                    # to take the GIL back, which the log rightly counts as
                    # GIL wait (at 32 threads it is ~25x the sleep).
                    # A loop's GIL hold is its CPU time plus what of its
                    # run-queue wait (other processes on the CPUs) fell while
                    # it held the GIL: between truth_runq (all) and truth
                    # (none); on an idle machine the two are one. (Measured
                    # with a second test run alongside: 1 thread, 191 ms of
                    # loop CPU and 380 ms held; beta_io 0.40 against 0.57
                    # from the CPU time alone.) Likewise a woken sleeper's
                    # wait for a CPU is outside the GIL: the sleeps' share
                    # is at most truth_sleep_runq, which is truth on an idle
                    # machine (measured with the other CPU busy: 32 threads,
                    # beta_io 0.63 against a truth of 0.52). The lower bound
                    # counts each sleep as asked, not as measured alone: the
                    # measure alone ran 3x long in a moment of load (0.77 s
                    # for 0.25 s asked) and put truth_runq above the truth.
                    self.assertGreaterEqual(got, out["truth_lo"] - 0.1, msg=why)
                    self.assertLessEqual(got, out["truth_sleep_runq"] + 0.1, msg=why)
                    if n == 1:
                        # Alone, the wall around the sleeps is the truth too.
                        self.assertGreaterEqual(got, out["truth_wall_runq"] - 0.1, msg=why)
                        self.assertLessEqual(got, out["truth_wall"] + 0.1, msg=why)

    # 5 --------------------------------------------------------------------
    def test_idle_pool_workers(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                cp, out, recs, log = self.logged(label, py, [wl("idle_pool.py"), "1.0", "0.02"])
                exits = self.worker_lives(label, recs, out)
                self.assertEqual(len(exits), 4, f"{out}\n{excerpt(exits)}")
                for r in exits:
                    share = r["idle_ms"] / r["wall_ms"] if r["wall_ms"] else 0.0
                    self.assertGreaterEqual(share, 0.8, f"idle share {share:.3f}: {json.dumps(r)}")
                f = sum_figs(exits)
                self.assertLessEqual(beta_io(f), 0.5, f"waiting pushed beta_io to "
                                     f"{beta_io(f):.4f}: {json.dumps(f)}\n{excerpt(exits)}")

    # 6 --------------------------------------------------------------------
    def test_invisible_to_python(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                bare = run([py, wl("visible.py")], preload=False)
                self.assertEqual(bare.returncode, 0, bare.stderr)
                cp, out, recs, log = self.logged(label, py, [wl("visible.py")])
                self.assertEqual(cp.stdout, bare.stdout)
                self.assertEqual(cp.stderr, bare.stderr)
                self.assertIn("during active_count 5 enumerate 5", cp.stdout)

    # 8 --------------------------------------------------------------------
    def test_mode_off_writes_nothing(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                d = tempfile.mkdtemp(prefix=label + "-off-", dir=self.tmp)
                log = os.path.join(d, "run.jsonl")
                bare = run([py, wl("visible.py")], preload=False)
                cp = run([py, wl("visible.py")], {"BETAPOOL_MODE": "off", "BETAPOOL_LOG": log})
                self.assertEqual(cp.returncode, bare.returncode, cp.stderr)
                self.assertEqual(cp.stdout, bare.stdout)
                self.assertEqual(cp.stderr, bare.stderr)
                self.assertFalse(os.path.exists(log), f"mode off wrote {log}")
                self.assertEqual(os.listdir(d), [])

    # 9 --------------------------------------------------------------------
    def test_log_path_pid(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                d = tempfile.mkdtemp(prefix=label + "-pid-", dir=self.tmp)
                cp = run([py, wl("sleepers.py"), "1", "1", "0.001"],
                         {"BETAPOOL_LOG": os.path.join(d, "run-%p.jsonl"), "BETAPOOL_MODE": "observe"})
                self.assertEqual(cp.returncode, 0, cp.stderr)
                pid = json.loads(cp.stdout)["pid"]
                self.assertEqual(os.listdir(d), [f"run-{pid}.jsonl"])
                recs, problems = parse_log(os.path.join(d, f"run-{pid}.jsonl"))
                self.assertEqual(problems, [])
                self.check_shape(label, recs)
                self.assertEqual(recs[0].get("pid"), pid)

    # 10 -------------------------------------------------------------------
    def test_stats_and_verbose(self):
        for label, py in self.each_python():
            with self.subTest(python=label, option="stats"):
                cp = run([py, wl("sleepers.py"), "2", "2", "0.001"],
                         {"BETAPOOL_STATS": "1", "BETAPOOL_MODE": "observe"})
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertIn("beta_io", cp.stderr)
            with self.subTest(python=label, option="verbose"):
                cp, out, recs, log = self.logged(label, py, [wl("sleepers.py"), "2", "2", "0.001"],
                                                 {"BETAPOOL_VERBOSE": "1"})
                opts = recs[0]["options"]
                lines = [ln for ln in cp.stderr.splitlines() if ln.startswith("betapool: option ")]
                named = sorted(ln.split()[2] for ln in lines)
                self.assertEqual(named, sorted(opts), f"stderr:\n{cp.stderr}\nstart options: {opts}")

    # 11 -------------------------------------------------------------------
    def test_log_tool_on_real_log(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                cp, out, recs, log = self.cpu_run(label, py, 8)
                text = subprocess.run([sys.executable, TOOL, "summary", log],
                                      capture_output=True, text=True, timeout=60)
                self.assertEqual(text.returncode, 0, text.stderr)
                self.assertIn("beta_io", text.stdout)
                js = subprocess.run([sys.executable, TOOL, "summary", "--json", log],
                                    capture_output=True, text=True, timeout=60)
                self.assertEqual(js.returncode, 0, js.stderr)
                data = json.loads(js.stdout)
                self.assertEqual(len(data["runs"]), 1)
                rows = data["runs"][0]["threads"]
                n_exit = sum(r["event"] == "thread_exit" for r in recs)
                self.assertEqual(sum(r.get("source") == "thread_exit" for r in rows), n_exit)
                self.assertEqual(len(rows), n_exit + len(recs[-1].get("threads", [])))
                self.assertEqual(data["runs"][0]["pid"], out["pid"])
                svg = os.path.join(os.path.dirname(log), "x.svg")
                pl = subprocess.run([sys.executable, TOOL, "plot", log, "-o", svg],
                                    capture_output=True, text=True, timeout=60)
                self.assertEqual(pl.returncode, 0, pl.stderr)
                root = ET.parse(svg).getroot()
                self.assertTrue(root.tag.endswith("svg"), root.tag)

    # 12 -------------------------------------------------------------------
    def test_schema_module_names_what_the_log_writes(self):
        """betapool/_schema.py, generated at build time from the shim's own
        lists, names the figures a real log carries, in the log's order, and
        computes beta and beta_io as the shim does."""
        sys.path.insert(0, os.path.join(ROOT, "python"))
        try:
            from betapool import _schema
        finally:
            sys.path.remove(os.path.join(ROOT, "python"))
        for label, py in self.each_python():
            with self.subTest(python=label):
                cp, out, recs, log = self.cpu_run(label, py, 8)
                for r in recs:
                    if r["event"] not in ("sample", "thread_exit") or "wall_ms" not in r:
                        continue
                    keys = tuple(k for k in r if k in FIGS or k in ("beta", "beta_io"))
                    self.assertEqual(keys, _schema.FIGURE_FIELDS + _schema.FIGURE_RATIOS, r)
                    self.assertEqual(_schema.SCHEMA, recs[0]["schema"])
                    # The log's milliseconds are rounded to 1 us and its
                    # ratios to 4 decimals: up to 4 rounded terms per ratio.
                    active = r["wall_ms"] - sum(r[k] for k in _schema.BETA_IO_OFF)
                    self.assertAlmostEqual(_schema.beta(r), r["beta"], msg=r,
                                           delta=1e-4 + 0.002 / max(r["wall_ms"], 1e-3))
                    self.assertAlmostEqual(_schema.beta_io(r), r["beta_io"], msg=r,
                                           delta=1e-4 + 0.003 / max(active, 1e-3))


class TestNonPython(ShimTestCase):
    """7: a process that is not CPython prints what it prints without the
    shim, exits the same, writes no log and says nothing."""

    def compare(self, argv, extra=None):
        d = tempfile.mkdtemp(prefix="betapool-nonpy-")
        self.addCleanup(shutil.rmtree, d, True)
        log = os.path.join(d, "run.jsonl")
        env = {"BETAPOOL_LOG": log}
        env.update(extra or {})
        bare = run(argv, preload=False)
        cp = run(argv, env)
        self.assertEqual(cp.stdout, bare.stdout)
        self.assertEqual(cp.returncode, bare.returncode)
        self.assertFalse(os.path.exists(log), f"{argv}: wrote {log}")
        self.assertEqual(os.listdir(d), [])
        return bare, cp

    SH = ["sh", "-c", "echo hi; for i in 1 2 3; do echo $i; done"]

    def test_shell(self):
        bare, cp = self.compare(self.SH)
        self.assertEqual(cp.stdout, "hi\n1\n2\n3\n")
        self.assertEqual(cp.stderr, bare.stderr)

    def test_shell_verbose_is_silent(self):
        bare, cp = self.compare(self.SH, {"BETAPOOL_VERBOSE": "1", "BETAPOOL_STATS": "1"})
        self.assertEqual(cp.stderr, "")

    def test_pthread_churn(self):
        if not os.path.exists(CHURN):
            self.skipTest(f"{CHURN} not built")
        bare, cp = self.compare([CHURN, "1000"])
        self.assertEqual(bare.returncode, 0, bare.stderr)
        self.assertEqual(cp.stderr, bare.stderr)

    def test_pthread_churn_verbose_is_silent(self):
        if not os.path.exists(CHURN):
            self.skipTest(f"{CHURN} not built")
        bare, cp = self.compare([CHURN, "1000"], {"BETAPOOL_VERBOSE": "1", "BETAPOOL_STATS": "1"})
        self.assertEqual(cp.stderr, "")


def kernel_vouches_for_tsc():
    """What betapool's BETAPOOL_CLOCK=auto must find: an invariant TSC that
    the kernel keeps time with."""
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            if f.read().strip() != "tsc":
                return False
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return "constant_tsc" in flags and "nonstop_tsc" in flags
    except OSError:
        return False
    return False


class TestClock(ObserveCase):

    def test_clock_is_named_and_both_clocks_measure(self):
        # The start record names the clock the kernel's word picks; forced
        # onto CLOCK_MONOTONIC it says so. Either way a CPU pool holds the
        # GIL no longer than the process lived and reads CPU-bound.
        want = "tsc" if kernel_vouches_for_tsc() else "monotonic"
        for label, py in self.each_python():
            for env, clock in (({}, want), ({"BETAPOOL_CLOCK": "monotonic"}, "monotonic")):
                with self.subTest(python=label, clock=clock):
                    cp, out, recs, log = self.logged(label, py, [wl("cpu.py"), "8"], env)
                    self.assertEqual(recs[0].get("clock"), clock, json.dumps(recs[0]))
                    ex = recs[-1]
                    tot = ex["totals"]
                    self.assertLessEqual(tot["gil_held_ms"], ex["t"] * 1000.0 * 1.02 + 5.0, json.dumps(tot))
                    self.assertLessEqual(beta_io(tot), 0.15, json.dumps(tot))


if __name__ == "__main__":
    unittest.main()
