"""Robustness: the host program never hangs, crashes or changes its results
because of the shim (DESIGN.md, Invariants 1-5): fork, multiprocessing,
programs that are not CPython, bad environment values and log paths, thread
churn, shutdown and signals, threads started by C code."""
import errno
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

W = common.WORKLOADS
WARN = "betapool: warning:"
CHURN_THREADS = 200000
BAD_VALUES = ["garbage", "", "-1", "99999999999999999999999"]
OPTIONS = ["BETAPOOL_MODE", "BETAPOOL_INTERVAL_MS", "BETAPOOL_VERBOSE", "BETAPOOL_STATS"]


def warnings_in(stderr):
    return [line for line in stderr.splitlines() if line.startswith(WARN)]


def load_jsonl(test, path):
    """Every line of path as JSON; fails the test on a line that is not."""
    recs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            test.assertTrue(line.endswith("\n"), f"{path}:{n}: unterminated line {line[:200]!r}")
            try:
                recs.append(json.loads(line))
            except ValueError:
                test.fail(f"{path}:{n}: not JSON: {line[:200]!r}")
    return recs


def first_and_last(path):
    """(first record, last record) of a log, without reading all of it."""
    with open(path, "rb") as f:
        first = json.loads(f.readline())
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - (1 << 20)))
        tail = f.read().splitlines()
    return first, json.loads(tail[-1])


def check_log_shape(test, recs, pid, label):
    """One start record, first, with this pid; one exit record, last."""
    test.assertTrue(recs, f"{label}: empty log")
    test.assertEqual(recs[0].get("event"), "start", f"{label}: first record {recs[0]}")
    test.assertEqual(recs[0].get("pid"), pid, f"{label}: start record's pid")
    test.assertEqual([r["event"] for r in recs].count("start"), 1, f"{label}: start records")
    test.assertEqual(recs[-1].get("event"), "exit", f"{label}: last record {str(recs[-1])[:300]}")
    test.assertEqual([r["event"] for r in recs].count("exit"), 1, f"{label}: exit records")


def check_accounting(test, exit_rec, label):
    alive = len(exit_rec.get("threads", []))
    test.assertEqual(exit_rec.get("threads_untracked"), 0, f"{label}: {str(exit_rec)[:400]}")
    test.assertEqual(exit_rec["threads_started"], exit_rec["threads_exited"] + alive,
                     f"{label}: threads_started != threads_exited + alive: {str(exit_rec)[:400]}")


def pick_heavy():
    """pyenv 3.12 and Debian 3.11 if present, else the first present."""
    have = {label: path for label, path in common.pythons() if path}
    chosen = [(lb, have[lb]) for lb in ("pyenv-3.12", "debian-3.11") if lb in have]
    if not chosen and have:
        chosen = [next(iter(have.items()))]
    return chosen



def setUpModule():
    # The host must survive betapool at its most intrusive: mode auto (the
    # default, named so that another default cannot weaken these tests).
    common.DEFAULT_ENV["BETAPOOL_MODE"] = "auto"


def tearDownModule():
    common.DEFAULT_ENV.pop("BETAPOOL_MODE", None)

class RobustTest(common.ShimTestCase):

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="betapool-robust-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    # ---- 1. fork ------------------------------------------------------

    def _fork_run(self, python, log_pattern):
        cp = common.run([python, os.path.join(W, "robust_fork.py")],
                        {"BETAPOOL_LOG": log_pattern}, timeout=60)
        self.assertEqual(cp.returncode, 3, f"parent exit code; stderr: {cp.stderr[-2000:]}")
        m = re.search(r"^parent (\d+) child (\d+) status (-?\d+) result (\d+) tids ([\d,]+)$",
                      cp.stdout, re.M)
        c = re.search(r"^child (\d+) result (\d+) tids ([\d,]+)$", cp.stdout, re.M)
        self.assertTrue(m and c, f"output: {cp.stdout!r} stderr: {cp.stderr[-2000:]}")
        self.assertEqual(int(m.group(3)), 7, "child exit code")
        self.assertEqual(m.group(4), c.group(2), "parent and child results differ")
        self.assertEqual(m.group(2), c.group(1))
        parent, child = int(m.group(1)), int(m.group(2))
        ptids = {int(t) for t in m.group(5).split(",")}
        ctids = {int(t) for t in c.group(3).split(",")} | {child}
        return parent, child, ptids, ctids

    def _check_parent_log(self, path, parent, ptids, ctids, label):
        recs = load_jsonl(self, path)
        check_log_shape(self, recs, parent, label)
        tids = {r["tid"] for r in recs if "tid" in r}
        self.assertFalse(tids & ctids, f"{label}: the child's threads are in the parent's log")
        self.assertLessEqual(ptids | {parent}, tids, f"{label}: parent's threads missing")
        check_accounting(self, recs[-1], label)

    def test_fork_fixed_log_path(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                d = self.tmpdir()
                log = os.path.join(d, "run.jsonl")
                parent, child, ptids, ctids = self._fork_run(py, log)
                self._check_parent_log(log, parent, ptids, ctids, label)
                for name in os.listdir(d):
                    if name != "run.jsonl":
                        # A child may only ever write a file of its own.
                        recs = load_jsonl(self, os.path.join(d, name))
                        self.assertEqual(recs[0].get("pid"), child, f"{label}: stray file {name}")

    def test_fork_pid_log_path(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                d = self.tmpdir()
                parent, child, ptids, ctids = self._fork_run(py, os.path.join(d, "run-%p.jsonl"))
                files = set(os.listdir(d))
                pname, cname = f"run-{parent}.jsonl", f"run-{child}.jsonl"
                self.assertLessEqual(files, {pname, cname}, f"{label}: unexpected files")
                self.assertIn(pname, files)
                self._check_parent_log(os.path.join(d, pname), parent, ptids, ctids, label)
                if cname in files:
                    recs = load_jsonl(self, os.path.join(d, cname))
                    check_log_shape(self, recs, child, label + " child")
                    started = {r["tid"] for r in recs if r["event"] == "thread_start"}
                    self.assertLessEqual(started, ctids, f"{label}: child log has foreign threads")
                    check_accounting(self, recs[-1], label + " child")

    # ---- 2. multiprocessing ---------------------------------------------

    def test_multiprocessing_results_unchanged(self):
        for label, py in pick_heavy():
            for method in ("fork", "spawn"):
                with self.subTest(python=label, method=method):
                    argv = [py, os.path.join(W, "robust_mp.py"), method]
                    stock = common.run(argv, preload=False, timeout=120)
                    self.assertEqual(stock.returncode, 0, stock.stderr[-2000:])
                    d = self.tmpdir()
                    log = os.path.join(d, "mp.jsonl")
                    shim = common.run(argv, {"BETAPOOL_LOG": log}, timeout=120)
                    self.assertEqual(shim.returncode, 0, shim.stderr[-2000:])
                    self.assertEqual(json.loads(shim.stdout), json.loads(stock.stdout))
                    self.assertEqual(json.loads(shim.stdout)["sh"], ["x\n", "y\n", 4])
                    self.assertNotIn(WARN, shim.stderr)
                    recs = load_jsonl(self, log)
                    self.assertEqual(recs[-1]["event"], "exit")
                    for name in os.listdir(d):
                        if name == "mp.jsonl":
                            continue
                        # Spawned children are Pythons given the same path.
                        self.assertEqual(method, "spawn", f"fork child wrote {name}")
                        crecs = load_jsonl(self, os.path.join(d, name))
                        self.assertEqual(name, f"mp.jsonl.{crecs[0]['pid']}")
                        self.assertTrue(any(r["event"] == "note" and name in r["message"]
                                            for r in crecs), f"no note in {name}")

    # ---- 3. programs that are not CPython --------------------------------

    def _same_as_stock(self, argv, cwd=None, env_extra=None):
        d = self.tmpdir()
        extra = {"BETAPOOL_LOG": os.path.join(d, "log-%p.jsonl"), "BETAPOOL_STATS": "1"}
        extra.update(env_extra or {})
        t0 = time.monotonic()
        stock = common.run(argv, preload=False, cwd=cwd, timeout=120)
        t1 = time.monotonic()
        shim = common.run(argv, extra, cwd=cwd, timeout=120)
        t2 = time.monotonic()
        self.assertEqual(shim.returncode, stock.returncode, shim.stderr[-2000:])
        self.assertEqual(shim.stdout, stock.stdout)
        self.assertEqual(shim.stderr, stock.stderr)
        self.assertEqual(os.listdir(d), [], "a log was created for a non-Python program")
        self.assertLessEqual(t2 - t1, 3 * (t1 - t0) + 0.5,
                             f"stock {t1 - t0:.3f}s, shim {t2 - t1:.3f}s")
        return stock

    def test_non_python_sh(self):
        cp = self._same_as_stock(["sh", "-c", "echo x; echo $((6*7)); exit 3"])
        self.assertEqual((cp.stdout, cp.returncode), ("x\n42\n", 3))

    def test_non_python_pthread_churn(self):
        prog = os.path.join(common.BUILD, "tests", "pthread_churn")
        if not os.access(prog, os.X_OK):
            self.skipTest(f"{prog} not built")
        cp = self._same_as_stock([prog, "1000"])
        self.assertEqual(cp.returncode, 0)
        self.assertIn("threads 1000 ", cp.stdout)

    def test_non_python_gcc(self):
        gcc = shutil.which("gcc")
        if not gcc:
            self.skipTest("gcc is not installed")
        d = self.tmpdir()
        with open(os.path.join(d, "t.c"), "w") as f:
            f.write('#include <stdio.h>\nint main(void){int s=0;for(int i=0;i<100;i++)s+=i;'
                    'printf("sum %d\\n",s);return 0;}\n')
        bins = []
        for preload in (False, True):
            extra = {"BETAPOOL_LOG": os.path.join(d, "gcc-%p.jsonl")}
            cp = common.run([gcc, "-O2", "-o", "t", "t.c"], extra, preload=preload, cwd=d)
            self.assertEqual((cp.returncode, cp.stdout, cp.stderr), (0, "", ""))
            with open(os.path.join(d, "t"), "rb") as f:
                bins.append(f.read())
            out = subprocess.run([os.path.join(d, "t")], capture_output=True, text=True)
            self.assertEqual(out.stdout, "sum 4950\n")
            os.unlink(os.path.join(d, "t"))
        self.assertEqual(bins[0], bins[1], "gcc produced a different binary under the shim")
        self.assertEqual(sorted(os.listdir(d)), ["t.c"], "a log was created for gcc")
        self._same_as_stock([gcc, "-c", "-o", os.path.join(d, "t.o"), os.path.join(d, "t.c")])

    def test_non_python_ignores_bad_options(self):
        # Invariant 2: nothing visible in a process that is not CPython,
        # not even warnings about values it never uses.
        bad = {name: "garbage" for name in OPTIONS}
        self._same_as_stock(["sh", "-c", "echo x"], env_extra=bad)

    # ---- 4. bad input ---------------------------------------------------

    def _baseline(self, py):
        cp = common.run([py, os.path.join(W, "robust_simple.py")], preload=False, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp.stdout

    def _runs_normally(self, py, expected, extra, n_warnings, what, **kw):
        cp = common.run([py, os.path.join(W, "robust_simple.py")], extra, timeout=60, **kw)
        self.assertEqual(cp.returncode, 0, f"{what}: {cp.stderr[-2000:]}")
        self.assertEqual(cp.stdout, expected, what)
        self.assertEqual(len(warnings_in(cp.stderr)), n_warnings,
                         f"{what}: stderr was {cp.stderr[-2000:]!r}")
        return cp

    def test_bad_option_values(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                expected = self._baseline(py)
                for name in OPTIONS:
                    for value in BAD_VALUES:
                        cp = self._runs_normally(py, expected, {name: value}, 1,
                                                 f"{label} {name}={value!r}")
                        self.assertIn(name, warnings_in(cp.stderr)[0])
                self._runs_normally(py, expected, {"BETAPOOL_LOG": ""}, 1,
                                    f"{label} BETAPOOL_LOG=''")
                everything = {name: "garbage" for name in OPTIONS}
                everything["BETAPOOL_LOG"] = ""
                cp = self._runs_normally(py, expected, everything, len(everything),
                                         f"{label} all bad at once")
                for name in everything:
                    self.assertEqual(sum(name + "=" in w for w in warnings_in(cp.stderr)), 1,
                                     f"{label}: warnings for {name}: {cp.stderr!r}")

    def test_bad_values_fall_back_to_defaults(self):
        label, py = pick_heavy()[0]
        expected = self._baseline(py)
        d = self.tmpdir()
        used = []
        # Compare with the library's own defaults, not this module's.
        saved = dict(common.DEFAULT_ENV)
        common.DEFAULT_ENV.clear()
        self.addCleanup(common.DEFAULT_ENV.update, saved)
        for bad in (False, True):
            log = os.path.join(d, f"run-{bad}.jsonl")
            extra = {name: "99999999999999999999999" for name in OPTIONS} if bad else {}
            extra["BETAPOOL_LOG"] = log
            self._runs_normally(py, expected, extra, len(extra) - 1, label)
            opts = load_jsonl(self, log)[0]["options"]
            used.append({k: v for k, v in opts.items() if k != "log"})
        # The start record's options with bad values are the defaults.
        self.assertEqual(used[1], used[0], label)

    def test_log_path_directory_or_missing_folder(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                expected = self._baseline(py)
                d = self.tmpdir()
                self._runs_normally(py, expected, {"BETAPOOL_LOG": d}, 1, f"{label} dir")
                self.assertEqual(os.listdir(d), [])
                missing = os.path.join(d, "missing", "run.jsonl")
                self._runs_normally(py, expected, {"BETAPOOL_LOG": missing}, 1,
                                    f"{label} missing folder")
                self.assertFalse(os.path.exists(os.path.dirname(missing)))

    def test_log_path_cannot_be_opened(self):
        d = self.tmpdir()
        ro = os.path.join(d, "ro")
        os.mkdir(ro, 0o500)
        os.chmod(ro, 0o500)
        path = os.path.join(ro, "run.jsonl")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            os.unlink(path)
            refused = False
        except OSError:
            refused = True
        if not refused:
            # Root writes into a 0500 folder; a read-only sysfs attribute
            # (mode 0444) is refused to root too.
            path = "/sys/kernel/notes"
            try:
                os.close(os.open(path, os.O_WRONLY))
            except OSError as e:
                refused = e.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        if not refused:
            self.skipTest("running as root, and neither a 0500 folder nor "
                          "/sys/kernel/notes refuses root here")
        for label, py in self.each_python():
            with self.subTest(python=label):
                self._runs_normally(py, self._baseline(py), {"BETAPOOL_LOG": path}, 1,
                                    f"{label} {path}")

    def test_log_path_opens_but_cannot_be_written(self):
        # /proc/version opens for writing as root, but every write fails
        # (EIO): the log is lost, so the user must be told, once.
        path = "/proc/version"
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as e:
            self.skipTest(f"{path} cannot be opened for writing here ({e}); "
                          "covered by test_log_path_cannot_be_opened")
        os.close(fd)
        for label, py in pick_heavy():
            with self.subTest(python=label):
                self._runs_normally(py, self._baseline(py), {"BETAPOOL_LOG": path}, 1,
                                    f"{label} {path}")

    def test_log_path_symlink(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                expected = self._baseline(py)
                d = self.tmpdir()
                log = os.path.join(d, "run.jsonl")
                target = os.path.join(d, "target.jsonl")
                os.symlink(target, log)
                self._runs_normally(py, expected, {"BETAPOOL_LOG": log}, 1, f"{label} dangling")
                self.assertFalse(os.path.lexists(target), "written through a dangling symlink")
                self.assertTrue(os.path.islink(log))
                victim = os.path.join(d, "victim")
                with open(victim, "w") as f:
                    f.write("keep me\n")
                os.chmod(victim, 0o644)
                os.unlink(log)
                os.symlink(victim, log)
                self._runs_normally(py, expected, {"BETAPOOL_LOG": log}, 1, f"{label} to a file")
                with open(victim) as f:
                    self.assertEqual(f.read(), "keep me\n", "written through a symlink")
                self.assertEqual(stat.S_IMODE(os.stat(victim).st_mode), 0o644)
                self.assertTrue(os.path.islink(log))

    def test_log_file_mode_0600(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                d = self.tmpdir()
                log = os.path.join(d, "run.jsonl")
                self._runs_normally(py, self._baseline(py), {"BETAPOOL_LOG": log}, 0, label,
                                    preexec_fn=lambda: os.umask(0))
                self.assertEqual(stat.S_IMODE(os.stat(log).st_mode), 0o600)
                self.assertEqual(load_jsonl(self, log)[-1]["event"], "exit")

    def test_two_processes_same_log_path(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                expected = self._baseline(py)
                d = self.tmpdir()
                log = os.path.join(d, "run.jsonl")
                a = subprocess.Popen([py, os.path.join(W, "robust_simple.py"), "wait"],
                                     env=common.shim_env({"BETAPOOL_LOG": log}),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                try:
                    self.assertEqual(a.stdout.readline(), "ready\n")
                    b = subprocess.Popen([py, os.path.join(W, "robust_simple.py")],
                                         env=common.shim_env({"BETAPOOL_LOG": log}),
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
                    bout, berr = b.communicate(timeout=60)
                    aout, aerr = a.communicate("go\n", timeout=60)
                finally:
                    if a.poll() is None:
                        a.kill()
                        a.wait()
                self.assertEqual((a.returncode, b.returncode), (0, 0), aerr + berr)
                self.assertEqual(aout, expected)
                self.assertEqual(bout, expected)
                self.assertEqual(sorted(os.listdir(d)), sorted(["run.jsonl", f"run.jsonl.{b.pid}"]))
                arecs = load_jsonl(self, log)
                check_log_shape(self, arecs, a.pid, f"{label} first")
                brecs = load_jsonl(self, f"{log}.{b.pid}")
                check_log_shape(self, brecs, b.pid, f"{label} second")
                notes = [r for r in brecs if r["event"] == "note"]
                self.assertTrue(any(f"run.jsonl.{b.pid}" in r["message"] for r in notes),
                                f"{label}: no note naming the file: {notes}")
                self.assertFalse({r["tid"] for r in arecs if "tid" in r}
                                 & {r["tid"] for r in brecs if "tid" in r})

    # ---- 5. churn -------------------------------------------------------

    def test_thread_churn_bounded(self):
        for label, py in pick_heavy():
            with self.subTest(python=label):
                d = self.tmpdir()
                log = os.path.join(d, "churn.jsonl")
                cp = common.run([py, os.path.join(W, "robust_churn.py"), str(CHURN_THREADS), "8"],
                                {"BETAPOOL_LOG": log}, timeout=180)
                self.assertEqual(cp.returncode, 0, cp.stderr[-2000:])
                res = json.loads(cp.stdout)
                self.assertTrue(res["ok"])
                self.assertEqual(res["threads"], CHURN_THREADS)
                self.assertLessEqual(res["rss_end_kib"], res["rss_10_kib"] + 8 * 1024,
                                     f"{label}: RSS grew: {res}")
                first, last = first_and_last(log)
                os.unlink(log)
                self.assertEqual(first["event"], "start")
                self.assertEqual(last["event"], "exit", str(last)[:400])
                check_accounting(self, last, label)
                self.assertEqual(last["threads_started"], CHURN_THREADS + 1, str(last)[:400])
                self.assertEqual(last["python_threads"], CHURN_THREADS + 1, str(last)[:400])
                print(f"\n  churn {label}: {CHURN_THREADS} threads in {res['seconds']} s, "
                      f"RSS {res['rss_10_kib']} -> {res['rss_end_kib']} KiB", file=sys.stderr)

    # ---- 6. shutdown and signals ----------------------------------------

    def test_exit_with_cpu_bound_daemon_threads(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                d = self.tmpdir()
                log = os.path.join(d, "run.jsonl")
                t0 = time.monotonic()
                cp = common.run([py, os.path.join(W, "robust_signals.py"), "daemon-exit"],
                                {"BETAPOOL_LOG": log}, timeout=30)
                took = time.monotonic() - t0
                self.assertEqual(cp.returncode, 5, cp.stderr[-2000:])
                self.assertLess(took, 5.0, f"{label}: exit took {took:.2f}s")
                recs = load_jsonl(self, log)
                self.assertEqual(recs[-1]["event"], "exit")

    def _start_waiting(self, py, preload):
        p = subprocess.Popen([py, os.path.join(W, "robust_signals.py"), "wait"],
                             env=common.shim_env(preload=preload), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        ready, _, _ = select.select([p.stdout], [], [], 20)
        self.assertTrue(ready, "workload never became ready")
        self.assertEqual(p.stdout.readline(), "ready\n")
        time.sleep(0.3)  # let the workers spin
        return p

    def test_sigint_raises_keyboardinterrupt(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                p = self._start_waiting(py, True)
                t0 = time.monotonic()
                p.send_signal(signal.SIGINT)
                try:
                    out, err = p.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    out, err = p.communicate()
                    self.fail(f"{label}: still running 10 s after SIGINT")
                took = time.monotonic() - t0
                self.assertEqual(p.returncode, 0, err[-2000:])
                self.assertEqual(out, "interrupted\n", err[-2000:])
                self.assertLess(took, 2.0, f"{label}: SIGINT took {took:.2f}s")

    def test_sigterm_kills_as_without_shim(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                codes = []
                for preload in (False, True):
                    p = self._start_waiting(py, preload)
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.communicate(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.communicate()
                        self.fail(f"{label}: still running 10 s after SIGTERM")
                    codes.append(p.returncode)
                self.assertEqual(codes, [-signal.SIGTERM, -signal.SIGTERM])

    # ---- 7. a thread started by C code -----------------------------------

    def test_thread_started_by_c_library(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                argv = [py, os.path.join(W, "robust_cthread.py")]
                stock = common.run(argv, preload=False, timeout=60)
                self.assertEqual(stock.returncode, 0, stock.stderr[-2000:])
                d = self.tmpdir()
                log = os.path.join(d, "run.jsonl")
                cp = common.run(argv, {"BETAPOOL_LOG": log}, timeout=60)
                self.assertEqual(cp.returncode, 0, cp.stderr[-2000:])
                strip = lambda s: re.sub(r"tid \d+ ", "", s)  # noqa: E731
                self.assertEqual(strip(cp.stdout), strip(stock.stdout))
                ctids = [int(t) for t in re.findall(r"^tid (\d+) ", cp.stdout, re.M)]
                self.assertEqual(len(ctids), 3)
                recs = load_jsonl(self, log)
                check_log_shape(self, recs, recs[0]["pid"], label)
                check_accounting(self, recs[-1], label)
                for tid in ctids:
                    starts = [r for r in recs if r["event"] == "thread_start" and r["tid"] == tid]
                    exits = [r for r in recs if r["event"] == "thread_exit" and r["tid"] == tid]
                    self.assertEqual(len(starts), 1, f"{label}: C thread {tid} not seen starting")
                    self.assertEqual(len(exits), 1, f"{label}: C thread {tid} not seen ending")
                    self.assertEqual((starts[0]["python"], starts[0]["via"]), (False, "none"))


if __name__ == "__main__":
    unittest.main()
