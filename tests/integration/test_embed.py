"""A Python that arrives after start, by dlopen: a C host (tests/programs/
embed_host.c) that loads a shared libpython, and uWSGI with its python3
plugin (which links Debian's libpython3.11.so and is dlopen'd). betapool's
constructor finds no Python in either; it must recognise the image when it
arrives, see its GIL made, and measure and decide as in a python process -
and the host's threads must start as they do without it."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import common

HOST = os.path.join(common.BUILD, "tests", "embed_host")
HIDE = os.path.join(common.BUILD, "tests", "libhide_gil.so")

# Two sleeping threads and a CPU pool of four: what each kind of thread's
# beta_io must say is known.
WORK = r'''
import threading, time
from concurrent.futures import ThreadPoolExecutor
def cpu(n):
    s = 0
    for i in range(300000):
        s += i * n
    return s
def sleeper():
    time.sleep(0.4)
ts = [threading.Thread(target=sleeper) for _ in range(2)]
for t in ts:
    t.start()
with ThreadPoolExecutor(4) as ex:
    print(sum(ex.map(cpu, range(40))))
for t in ts:
    t.join()
print(threading.active_count())
'''


def shared_libpythons():
    """[(label, prefix, libpython or None)] for pyenv's shared builds."""
    root = common.pyenv_root()
    out = []
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        found = None
        if root:
            for prefix in sorted(glob.glob(os.path.join(root, "versions", minor + ".*")), reverse=True):
                lib = os.path.join(prefix, "lib", "libpython" + minor + ".so")
                if os.path.exists(lib):
                    found = (prefix, lib)
                    break
        out.append(("pyenv-" + minor,) + (found or (None, None)))
    return out


class TestEmbedHost(common.ShimTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(HOST):
            raise unittest.SkipTest(f"{HOST} not built")
        cls.dir = tempfile.mkdtemp(prefix="betapool-embed-")
        cls.script = os.path.join(cls.dir, "work.py")
        with open(cls.script, "w") as f:
            f.write(WORK)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def host(self, prefix, lib, extra=None, preload=True, local=False, ld_preload=None):
        env = common.shim_env(extra, preload)
        env["PYTHONHOME"] = prefix
        if ld_preload:
            env["LD_PRELOAD"] = ld_preload
        argv = [HOST] + (["--local"] if local else []) + [lib, self.script]
        log = os.path.join(self.dir, "host.jsonl")
        if os.path.exists(log):
            os.unlink(log)
        if preload:
            env["BETAPOOL_LOG"] = log
        cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        recs = common.read_log(log) if os.path.exists(log) else []
        return cp, recs

    def each_libpython(self):
        for label, prefix, lib in shared_libpythons():
            if lib is None:
                with self.subTest(python=label):
                    self.skipTest(f"{label} with a shared libpython is not installed on this machine")
                continue
            yield label, prefix, lib

    def check_served(self, cp, recs, stock):
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, stock.stdout, "the host's results are unchanged")
        self.assertNotIn("can't start new thread", cp.stderr)
        self.assertTrue(recs, "a log was written")
        self.assertEqual(recs[0]["event"], "start")
        self.assertEqual(recs[0]["gil"], "found")
        notes = [r["message"] for r in recs if r["event"] == "note"]
        self.assertTrue(any("arrived after start" in m and "pthread_mutex_init" in m for m in notes),
                        f"recognised when it made its GIL's locks: {notes}")
        # A joined thread may still be ending when the exit record is written:
        # it is then in that record's list, not a thread_exit.
        self.assertEqual(recs[-1]["event"], "exit")
        exits = [r for r in recs if r["event"] == "thread_exit" and r["python"]] + [
            r for r in recs[-1].get("threads", []) if r["python"] and r["via"] != "main" and "beta_io" in r]
        self.assertGreaterEqual(len(exits), 6, "the pool's 4 threads and the 2 sleepers")
        computing = [r for r in exits if r["gil_held_ms"] >= 20]
        sleeping = [r for r in exits if r["blocked_ms"] >= 350]
        self.assertGreaterEqual(len(computing), 3, exits)
        self.assertEqual(len(sleeping), 2, exits)
        for r in computing:
            self.assertLess(r["beta_io"], 0.2, r)
        for r in sleeping:
            self.assertGreater(r["beta_io"], 0.9, r)
        decisions = [r for r in recs if r["event"] == "decision"]
        self.assertTrue(decisions, "the controller decided")
        self.assertTrue(any(d["beta_io"] <= 0.3 for d in decisions),
                        "it decided on the CPU pool's measured beta_io")
        self.assertEqual(recs[-1]["event"], "exit")

    def test_dlopened_libpython_is_served(self):
        """RTLD_GLOBAL, as embedders that import extension modules do."""
        for label, prefix, lib in self.each_libpython():
            with self.subTest(python=label):
                stock, _ = self.host(prefix, lib, preload=False)
                self.assertEqual(stock.returncode, 0, stock.stderr)
                cp, recs = self.host(prefix, lib)
                self.check_served(cp, recs, stock)

    def test_rtld_local_libpython_is_served(self):
        """RTLD_LOCAL: libpython's symbols are not in the global scope; the
        image is read directly (dlsym(RTLD_DEFAULT) would not see it)."""
        for label, prefix, lib in self.each_libpython():
            with self.subTest(python=label):
                stock, _ = self.host(prefix, lib, preload=False, local=True)
                self.assertEqual(stock.returncode, 0, stock.stderr)
                cp, recs = self.host(prefix, lib, local=True)
                self.check_served(cp, recs, stock)

    def test_gil_made_before_recognition_is_said(self):
        """libhide_gil makes CPython's lock creation come from another image:
        betapool first recognises the Python at a thread start, after its GIL
        was made. Threads start and are counted; the log says why nothing is
        followed or throttled."""
        if not os.path.exists(HIDE):
            self.skipTest(f"{HIDE} not built")
        label, prefix, lib = shared_libpythons()[-1]
        if lib is None:
            self.skipTest(f"{label} with a shared libpython is not installed on this machine")
        stock, _ = self.host(prefix, lib, preload=False)
        cp, recs = self.host(prefix, lib, ld_preload=HIDE + " " + common.LIB)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, stock.stdout)
        self.assertEqual(recs[0]["gil"], "not_found")
        notes = [r["message"] for r in recs if r["event"] == "note"]
        self.assertEqual(sum("made its GIL before betapool recognised" in m for m in notes), 1, notes)
        self.assertFalse(any("unknown CPython" in m for m in notes), notes)
        self.assertGreaterEqual(recs[-1]["threads_started"], 6)
        self.assertEqual(recs[-1].get("parks", 0), 0)

    def test_host_that_loads_no_python_stays_untouched(self):
        """A C program that dlopens a library that is not Python: no log, no
        output of betapool's, the host's own answer."""
        libm = "libm.so.6"
        cp, recs = self.host(self.dir, libm)
        self.assertEqual(cp.returncode, 2)
        self.assertEqual(cp.stderr.strip(), f"embed_host: {libm} lacks the embedding API")
        self.assertEqual(recs, [])


APP = r'''
def application(environ, start_response):
    n = int(environ.get("QUERY_STRING") or 0)
    s = 0
    for i in range(n):
        s += i
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(s).encode()]
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestUwsgi(common.ShimTestCase):
    """uWSGI's python3 plugin links Debian's libpython3.11.so and is
    dlopen'd by uwsgi-core; with --threads its request threads are uWSGI's
    own, created after Python arrived."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.uwsgi = shutil.which("uwsgi")
        if not cls.uwsgi:
            raise unittest.SkipTest("uwsgi is not installed (Debian: uwsgi-core uwsgi-plugin-python3)")
        probe = subprocess.run([cls.uwsgi, "--plugin", "python3", "--help"], capture_output=True, text=True,
                               timeout=30)
        if probe.returncode != 0:
            raise unittest.SkipTest("uwsgi's python3 plugin is not installed (Debian: uwsgi-plugin-python3)")

    def serve(self, extra_args):
        d = tempfile.mkdtemp(prefix="betapool-uwsgi-")
        self.addCleanup(shutil.rmtree, d, True)
        app = os.path.join(d, "app.py")
        with open(app, "w") as f:
            f.write(APP)
        port = free_port()
        env = common.shim_env({"BETAPOOL_LOG": os.path.join(d, "log.%p.jsonl")})
        argv = [self.uwsgi, "--plugin", "python3", "--http-socket", f"127.0.0.1:{port}", "--threads", "4",
                "--wsgi-file", app, "--disable-logging"] + extra_args
        out = open(os.path.join(d, "uwsgi.out"), "w")
        self.addCleanup(out.close)
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=d)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?10", timeout=5) as r:
                        r.read()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError("uwsgi did not serve: " + open(out.name).read()[-2000:])
                    time.sleep(0.1)
            answers = []

            def client():
                for _ in range(6):
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?300000", timeout=30) as r:
                        answers.append(r.read())

            clients = [threading.Thread(target=client) for _ in range(4)]
            for c in clients:
                c.start()
            for c in clients:
                c.join()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        logs = {}
        for path in glob.glob(os.path.join(d, "log.*.jsonl")):
            logs[int(os.path.basename(path).split(".")[1])] = common.read_log(path)
        return answers, logs, open(out.name).read(), proc.pid

    def check_log(self, recs, serving=True):
        self.assertEqual(recs[0]["event"], "start")
        self.assertEqual(recs[0]["gil"], "found")
        self.assertTrue(recs[0]["python"].startswith("3."), recs[0])
        self.assertTrue(any(r["event"] == "decision" for r in recs), "the controller decided")
        if serving:
            # uWSGI's request threads took the GIL and were measured.
            measured = {r["tid"] for r in recs if r["event"] == "sample" and r["gil_held_ms"] > 0}
            self.assertGreaterEqual(len(measured), 2, "request threads measured while serving")

    def test_threads(self):
        answers, logs, out, pid = self.serve([])
        self.assertEqual(answers, [str(sum(range(300000))).encode()] * 24, out[-2000:])
        self.assertEqual(list(logs), [pid], "one process serves without a master")
        self.check_log(logs[pid])

    def test_master_forks_workers(self):
        """--master: Python is initialised in the master, the workers are its
        fork children; each worker writes its own log (%p), measured and
        decided on; the master's log (it serves nothing) has gil: found."""
        answers, logs, out, pid = self.serve(["--master", "--processes", "2"])
        self.assertEqual(answers, [str(sum(range(300000))).encode()] * 24, out[-2000:])
        self.assertIn(pid, logs)
        self.assertEqual(logs[pid][0]["gil"], "found")
        workers = [recs for p, recs in logs.items() if p != pid]
        self.assertEqual(len(workers), 2, f"logs of pids {list(logs)}, master {pid}")
        for recs in workers:
            self.check_log(recs, serving=False)
        served = max(len({r["tid"] for r in recs if r["event"] == "sample" and r["gil_held_ms"] > 0})
                     for recs in workers)
        self.assertGreaterEqual(served, 2, "a worker's request threads measured while serving")


if __name__ == "__main__":
    unittest.main()
