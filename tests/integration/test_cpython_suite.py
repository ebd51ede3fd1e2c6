"""CPython's own threading regression tests in mode auto: on every
Python of common.pythons() that has its test package, `python -m test -j2
--timeout 600` runs MODULES with LD_PRELOAD=libbetapool.so and
BETAPOOL_MODE=auto in its environment (regrtest's worker processes, and
the processes the tests start, inherit both). A pass is exit status 0 and
regrtest's final "Result: SUCCESS" ("Tests result: SUCCESS" on 3.10).

A module this Python does not ship is skipped visibly. A module that fails
under the shim is run again without it: if it fails there too, with every
test case that failed under the shim, the failure is this Python's, not
betapool's, and the module is skipped visibly with the reason; otherwise it
fails, with the output and the cases only the shim run failed.

Every process writes a log (BETAPOOL_LOG=.../run-%p.jsonl) so that the test
can tell the shim really was enforcing in the test processes (a start record
with mode auto and the GIL found) and report what the gate did.

This takes minutes: set BETAPOOL_TEST_CPYTHON=0 to skip it locally; unset
or 1 runs it (CI). test_concurrent_futures dominates (with the shim, -j2,
an idle machine: 152 s on pyenv 3.10, 76 s on 3.13, 112 s on Debian's 3.14;
test_threading 13-19 s), so it runs only on the Pythons SLOW_ON names
(BETAPOOL_TEST_CPYTHON_SLOW_ON, comma-separated labels; "all" for every
one): by default the newest pyenv build and Debian's 3.14, each a different
GIL and thread-start code; the other Pythons skip it visibly."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import common

SWITCH = "BETAPOOL_TEST_CPYTHON"
MODULES = ("test_threading", "test_thread", "test_concurrent_futures", "test_queue",
           "test_threading_local")
SLOW = "test_concurrent_futures"
SLOW_ON_VAR = "BETAPOOL_TEST_CPYTHON_SLOW_ON"
SLOW_ON_DEFAULT = "pyenv-3.13,debian-3.14"
REGRTEST = ["-m", "test", "-j2", "--timeout", "600"]
RUN_TIMEOUT = 1800  # seconds for one regrtest run, whatever its modules
RESULT = re.compile(r"^(?:== )?(?:Tests result|Result): (.+?)(?: ==)?[ \t]*$", re.M)
# regrtest's summary: "2 tests failed:" followed by indented module names
# (3.13 splits test_concurrent_futures: test_concurrent_futures.test_wait).
GROUP = re.compile(r"^(\d+) tests? ([^\n:]+):\n((?:[ \t]+\S.*\n?)+)", re.M)
BAD_GROUPS = ("failed", "crashed", "timed out", "altered the execution environment", "omitted")
# unittest's "FAIL: test_x (test.test_threading.ThreadTests[.test_x])".
CASE = re.compile(r"^(?:FAIL|ERROR): (\S+) \(([^)]*)\)", re.M)
TRACEBACK = re.compile(r"^test (test_\w+)\S* failed -- Traceback \(most recent call last\):\n((?:[ \t]+.*\n)+)",
                       re.M)
# regrtest's progress lines: "[3/5/1] test_queue failed (1 failure)".
PROGRESS = re.compile(r"\] (test_\w+)(?:\.\S+)? (?!passed)(\w+)", re.M)


def enabled():
    return os.environ.get(SWITCH, "1") != "0"


def slow_on(label):
    """Whether the slow module runs on the Python labelled label."""
    names = {x.strip() for x in os.environ.get(SLOW_ON_VAR, SLOW_ON_DEFAULT).split(",")}
    return "all" in names or label in names


def test_dir(py):
    """The interpreter's own Lib/test directory (asked without the shim)."""
    cp = common.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                    preload=False, timeout=60)
    return os.path.join(cp.stdout.strip(), "test") if cp.returncode == 0 else None


def has_module(tdir, name):
    return (os.path.isfile(os.path.join(tdir, name + ".py"))
            or os.path.isfile(os.path.join(tdir, name, "__init__.py")))


def result_of(out):
    found = RESULT.findall(out)
    return found[-1].strip() if found else None


# regrtest's count (3.11+): "Total tests: run=851 skipped=14" (the last one).
TOTALS = re.compile(r"^Total tests: (.+?)\s*$", re.M)


def totals_of(out):
    found = TOTALS.findall(out)
    return found[-1] if found else "no count"


def passed(rc, out):
    return rc == 0 and result_of(out) == "SUCCESS"


def failing_modules(out):
    """Modules regrtest's summary lists as failed, crashed, timed out,
    omitted or having altered the environment."""
    bad = set()
    for m in GROUP.finditer(out):
        if m.group(2).strip().startswith(BAD_GROUPS):
            bad.update(name.split(".")[0] for name in m.group(3).split())
    return bad


def failed_cases(out, module):
    """The names of module's failed or erroring test methods: from
    unittest's "FAIL: test_x (test.module.Class...)" lines (verbose output,
    -W), and from regrtest's one-traceback summary, "test module failed --
    Traceback ...", the last test_ function in it."""
    names = {name for name, qual in CASE.findall(out)
             if qual == f"test.{module}" or qual.startswith(f"test.{module}.")}
    for m in TRACEBACK.finditer(out):
        if m.group(1) == module:
            funcs = re.findall(r'File "[^"]*", line \d+, in (test_\w+)', m.group(2))
            names.update(funcs[-1:])
    return names


def kinds(out, module):
    """How regrtest's progress lines say module ended, passed left out:
    {"failed"}, {"crashed"}, {"timed"}..."""
    return {k for name, k in PROGRESS.findall(out) if name == module}


def module_excerpt(out, name, limit=4000):
    """The part of regrtest's output about one module, or its tail."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.search(rf"\] {name}\S* (?!passed)", line):
            return "\n".join(lines[i:])[:limit]
    return out[-limit:]


def summarise_logs(d):
    """What the gate did, over every process's log."""
    s = {"logs": 0, "enforcing": 0, "gil_found": 0, "no_exit": 0, "parks": 0, "park_overruns": 0,
         "decisions": {}, "bad_lines": 0}
    for path in glob.glob(os.path.join(d, "run-*.jsonl")):
        s["logs"] += 1
        recs = []
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    s["bad_lines"] += 1
        if not recs:
            continue
        start = recs[0]
        if start.get("event") == "start" and start.get("mode") == "auto":
            s["enforcing"] += 1
            s["gil_found"] += start.get("gil") == "found"
        ex = recs[-1]
        if ex.get("event") != "exit":
            s["no_exit"] += 1  # killed, os._exit(), a crash test's child
            continue
        s["parks"] += ex.get("parks", 0)
        s["park_overruns"] += ex.get("park_overruns", 0)
        for a, n in (ex.get("decisions") or {}).items():
            s["decisions"][a] = s["decisions"].get(a, 0) + n
    return s


class TestCPythonSuite(common.ShimTestCase):

    @classmethod
    def setUpClass(cls):
        if not enabled():
            raise unittest.SkipTest(f"{SWITCH}=0: CPython's threading tests under auto not run")
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="betapool-cpython-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def regrtest(self, py, modules, shim, logdir=None, verbose3=False):
        """(exit status, output, seconds) of python -m test on modules;
        verbose3 adds -W: a failing test's whole output is shown."""
        extra = {} if shim else None  # the default mode: auto
        if shim and logdir:
            # %p: fork children log too (their own shim thread once they
            # start a thread), which test_threading's fork-from-a-thread
            # cases exercise: such a child ends when its only Python thread
            # returns, and the shim's thread must not keep it alive.
            extra["BETAPOOL_LOG"] = os.path.join(logdir, "run-%p.jsonl")
        t0 = time.monotonic()
        # A session of its own: on a timeout the whole group goes, regrtest's
        # worker processes too (killing regrtest alone left a worker
        # computing for half an hour).
        p = subprocess.Popen([py] + REGRTEST + ["-W"] * verbose3 + list(modules), env=common.shim_env(extra, shim),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace", cwd=self.tmp, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            return None, (out or "") + f"\n[betapool test: killed after {RUN_TIMEOUT} s]", time.monotonic() - t0
        return p.returncode, out, time.monotonic() - t0

    def test_threading_suites_under_auto(self):
        for label, py in self.each_python():
            tdir = test_dir(py)
            if not tdir or not os.path.isdir(os.path.join(tdir, "libregrtest")) or \
                    not any(has_module(tdir, m) for m in MODULES):
                with self.subTest(python=label):
                    self.skipTest(f"{label} ({py}) has no test package"
                                  f"{' (Debian: libpython3.x-testsuite)' if py.startswith('/usr/') else ''}")
                continue
            present = [m for m in MODULES if has_module(tdir, m)]
            for m in MODULES:
                if m not in present:
                    with self.subTest(python=label, module=m):
                        self.skipTest(f"{label} does not ship {m} ({tdir})")
            if SLOW in present and not slow_on(label):
                present.remove(SLOW)
                with self.subTest(python=label, module=SLOW):
                    self.skipTest(f"{label}: {SLOW} runs only on "
                                  f"{os.environ.get(SLOW_ON_VAR, SLOW_ON_DEFAULT)} ({SLOW_ON_VAR})")
            logdir = tempfile.mkdtemp(prefix=label + "-logs-", dir=self.tmp)
            rc, out, took = self.regrtest(py, present, True, logdir)
            result = result_of(out)
            logs = summarise_logs(logdir)
            shutil.rmtree(logdir, ignore_errors=True)
            print(f"\n  cpython suite {label}: {' '.join(present)}: exit {rc}, result {result} "
                  f"({totals_of(out)}), {took:.0f} s; logs {logs}", file=sys.stderr, end="")
            with self.subTest(python=label, check="the shim acted in the test processes"):
                self.assertGreater(logs["enforcing"], 0, f"{label}: no process logged mode auto: {logs}")
                self.assertEqual(logs["gil_found"], logs["enforcing"],
                                 f"{label}: the GIL was not found in some process: {logs}")
                self.assertEqual(logs["bad_lines"], 0, f"{label}: log lines that are not JSON: {logs}")
            ok = passed(rc, out)
            bad = failing_modules(out) & set(present) if not ok else set()
            if not ok and not bad:
                with self.subTest(python=label):
                    self.fail(f"{label}: regrtest exit {rc}, result {result!r}, and no module named "
                              f"as failing; output's end:\n{out[-6000:]}")
                continue
            for m in present:
                with self.subTest(python=label, module=m):
                    if m in bad:
                        self.judge_failure(label, py, m, rc, out)

    def judge_failure(self, label, py, m, rc, out):
        """m failed under the shim: run it alone again, with -W, with and
        without the shim; skip when it fails without the shim too, with every
        test method that failed under the shim, else fail with the evidence."""
        rc0, out0, took0 = self.regrtest(py, [m], False, verbose3=True)
        rc1, out1, took1 = self.regrtest(py, [m], True, verbose3=True)
        cases = failed_cases(out, m) | failed_cases(out1, m)
        cases0 = failed_cases(out0, m)
        kind, kind0 = kinds(out, m), kinds(out0, m)
        print(f"\n  cpython suite {label}: {m} failed under auto {sorted(kind)} {sorted(cases)} "
              f"(alone again: exit {rc1}, {result_of(out1)}); without the shim: exit {rc0}, "
              f"{result_of(out0)}, {sorted(kind0)} {sorted(cases0)}", file=sys.stderr, end="")
        if not passed(rc0, out0) and cases <= cases0 and kind <= kind0:
            self.skipTest(f"{m} fails on {label} without betapool too, the same way "
                          f"({sorted(kind0)}: {sorted(cases0)}); without the shim its end: "
                          f"{out0[-400:]!r}")
        self.fail(f"{label}: {m} failed under auto (exit {rc}, result {result_of(out)!r}, "
                  f"{sorted(kind)}); without the shim: exit {rc0}, result {result_of(out0)!r}, "
                  f"{sorted(kind0)} {sorted(cases0)}; failing only under auto: "
                  f"{sorted(cases - cases0)}; alone under auto again: exit {rc1}, result "
                  f"{result_of(out1)!r}, {sorted(failed_cases(out1, m))}.\n"
                  f"{module_excerpt(out, m)}\n--- alone under auto (-W), end:\n{out1[-3000:]}")


if __name__ == "__main__":
    unittest.main()
