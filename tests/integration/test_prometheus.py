"""Prometheus without a code change: BETAPOOL_METRICS_DIR's textfile
(current while the program runs, gone after it, never written through a
symlink, an unusable directory reported once), betapool.prometheus's
collector for prometheus_client, and the file served by a real
node_exporter and scraped by a real Prometheus server on loopback."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import common

WORKLOAD = os.path.join(common.WORKLOADS, "prom_threads.py")
PACKAGE_PARENT = os.path.join(common.ROOT, "python")
NAMES = ("betapool_gil_wait_seconds_total", "betapool_gil_held_seconds_total", "betapool_threads",
         "betapool_parks_total", "betapool_forced_switches_total", "betapool_pinned",
         "betapool_last_update_timestamp_seconds")
APT = "apt-get install -y prometheus prometheus-node-exporter python3-prometheus-client"

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(text):
    """{name: (labels, value)} of a text exposition with one sample per
    name; HELP and TYPE lines as {name: (help, type)} in a second dict."""
    samples, meta = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_ = line[7:].split(" ", 1)
            meta.setdefault(name, [None, None])[0] = help_
        elif line.startswith("# TYPE "):
            name, type_ = line[7:].split(" ", 1)
            meta.setdefault(name, [None, None])[1] = type_
        elif line and not line.startswith("#"):
            m = _SAMPLE.match(line)
            if not m:
                raise ValueError(f"not a sample line: {line!r}")
            labels = {k: re.sub(r"\\(.)", lambda e: {"n": "\n"}.get(e.group(1), e.group(1)), v)
                      for k, v in _LABEL.findall(m.group(2))}
            samples[m.group(1)] = (labels, float(m.group(3)))
    return samples, meta


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def prometheus_client_python():
    """A Python here that can import prometheus_client, or None."""
    for exe in ("/usr/bin/python3", sys.executable):
        if exe and os.access(exe, os.X_OK) and subprocess.run(
                [exe, "-c", "import prometheus_client"], capture_output=True).returncode == 0:
            return exe
    return None


class MetricsFileTest(common.ShimTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="betapool-prom-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def start(self, python, args, extra=None, **kw):
        env = common.shim_env(dict({"BETAPOOL_METRICS_DIR": self.dir}, **(extra or {})))
        p = subprocess.Popen([python, WORKLOAD] + [str(a) for a in args], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p

    def prom(self, pid):
        return os.path.join(self.dir, f"betapool-{pid}.prom")

    def test_file_is_current_rises_and_is_gone_after_exit(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                p = self.start(py, [2.0, 3])
                path = self.prom(p.pid)
                first = wait_for(lambda: read_text(path), 3.0)
                self.assertTrue(first, f"{path} never appeared")
                s1, meta = parse(first)
                for name in NAMES:
                    self.assertIn(name, s1, first)
                    self.assertEqual(meta[name][1], "counter" if name.endswith("_total") else "gauge")
                    self.assertTrue(meta[name][0], name)
                    self.assertEqual(s1[name][0], {"pid": str(p.pid), "program": "prom_threads.py"})
                self.assertLess(abs(s1["betapool_last_update_timestamp_seconds"][1] - time.time()), 2.0)
                time.sleep(0.6)
                # All three threads and main are counted once each has started
                # and been sampled: on a loaded machine 0.6 s was not always
                # enough (seen: 3), so the file is read until it shows them.
                def sampled():
                    text = read_text(path)
                    got = parse(text)[0] if text else {}
                    return got if got.get("betapool_threads", (None, 0))[1] >= 4 else None
                s2 = wait_for(sampled, 1.2, 0.05) or parse(read_text(path))[0]
                # three threads plus main share the GIL: waiting and holding both go on
                for name in ("betapool_gil_wait_seconds_total", "betapool_gil_held_seconds_total",
                             "betapool_last_update_timestamp_seconds"):
                    self.assertGreater(s2[name][1], s1[name][1], name)
                self.assertGreaterEqual(s2["betapool_threads"][1], 4)
                self.assertIn(s2["betapool_pinned"][1], (0, 1))
                for name in ("betapool_parks_total", "betapool_forced_switches_total"):
                    self.assertGreaterEqual(s2[name][1], s1[name][1], name)
                out, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, err)
                self.assertEqual(out, "result 5\n")
                self.assertEqual(err, "")
                self.assertEqual(os.listdir(self.dir), [], "the file (or a temporary) is left")

    def test_symlinks_at_either_name_are_not_followed(self):
        victims = {}
        for which in ("final", "tmp"):
            victims[which] = os.path.join(self.dir, "victim-" + which)
            with open(victims[which], "w") as f:
                f.write("keep\n")
        p = self.start(sys.executable, [1.0, 2, "wait"], stdin=subprocess.PIPE)
        final = self.prom(p.pid)
        tmp = os.path.join(self.dir, f".betapool-{p.pid}.prom.tmp")
        os.symlink(victims["final"], final)
        os.symlink(victims["tmp"], tmp)
        p.stdin.write("go\n")
        p.stdin.flush()
        self.assertTrue(wait_for(lambda: not os.path.islink(final), 3.0), "still a symlink")
        self.assertIn("betapool_threads{", read_text(final))
        out, err = p.communicate(timeout=60)
        self.assertEqual((p.returncode, out, err), (0, "result 1\n", ""))
        for which, v in victims.items():
            self.assertEqual(read_text(v), "keep\n", f"written through the symlink at the {which} name")
        self.assertEqual(sorted(os.listdir(self.dir)), ["victim-final", "victim-tmp"])

    def test_a_fork_child_writes_its_own_file(self):
        p = self.start(sys.executable, [3.0, 2, "fork"])
        line = p.stdout.readline()
        self.assertTrue(line.startswith("child "), line)
        child = int(line.split()[1])
        self.assertTrue(wait_for(lambda: read_text(self.prom(child)), 2.0), "no file for the child")
        s, _ = parse(read_text(self.prom(child)))
        self.assertEqual(s["betapool_threads"][0]["pid"], str(child))
        # the child exits normally: its file goes, the parent's stays
        self.assertTrue(wait_for(lambda: not os.path.exists(self.prom(child)), 4.0))
        self.assertTrue(os.path.exists(self.prom(p.pid)), "the child removed its parent's file")
        parent, _ = parse(read_text(self.prom(p.pid)))
        self.assertEqual(parent["betapool_threads"][0]["pid"], str(p.pid))
        out, err = p.communicate(timeout=60)
        self.assertEqual((p.returncode, out, err), (0, "result 1\n", ""))
        self.assertEqual(os.listdir(self.dir), [])

    def test_an_unusable_directory_is_reported_once_and_the_program_runs_on(self):
        plain = os.path.join(self.dir, "plain-file")
        open(plain, "w").close()
        base = common.run([sys.executable, WORKLOAD, "0.6", "2"], {}, timeout=60)
        self.assertEqual(base.returncode, 0, base.stderr)
        for where, errno_text in ((os.path.join(self.dir, "missing"), "No such file or directory"),
                                  (os.path.join(plain, "sub"), "Not a directory")):
            with self.subTest(dir=where):
                log = os.path.join(self.dir, "run.jsonl")
                cp = common.run([sys.executable, WORKLOAD, "0.6", "2"],
                                {"BETAPOOL_METRICS_DIR": where, "BETAPOOL_LOG": log}, timeout=60)
                self.assertEqual((cp.returncode, cp.stdout, cp.stderr),
                                 (base.returncode, base.stdout, base.stderr))
                notes = [r for r in common.read_log(log)
                         if r["event"] == "note" and "metrics file" in r["message"]]
                self.assertEqual(len(notes), 1, notes)
                self.assertEqual(notes[0]["level"], "warning")
                self.assertIn(errno_text, notes[0]["message"])
                os.unlink(log)
                cp = common.run([sys.executable, WORKLOAD, "0.6", "2"],
                                {"BETAPOOL_METRICS_DIR": where, "BETAPOOL_VERBOSE": "1"}, timeout=60)
                self.assertEqual((cp.returncode, cp.stdout), (base.returncode, base.stdout))
                said = [l for l in cp.stderr.splitlines() if "metrics file" in l]
                self.assertEqual(len(said), 1, cp.stderr)
                self.assertIn(where, said[0])
        self.assertEqual(sorted(os.listdir(self.dir)), ["plain-file"])


class CollectorTest(common.ShimTestCase):
    def test_collector_in_a_registry(self):
        py = prometheus_client_python()
        if py is None:
            self.skipTest(f"prometheus_client is not installed: {APT}")
        d = tempfile.mkdtemp(prefix="betapool-prom-")
        self.addCleanup(shutil.rmtree, d, True)
        env = common.shim_env({"BETAPOOL_METRICS_DIR": d})
        env["PYTHONPATH"] = PACKAGE_PARENT
        p = subprocess.Popen([py, WORKLOAD, "1.0", "3", "collector"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        text = wait_for(lambda: read_text(os.path.join(d, f"betapool-{p.pid}.prom")), 3.0)
        self.assertTrue(text)
        from_file, _ = parse(text)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertTrue(out.endswith("result 5\n"), out)
        got, meta = parse(out[:-len("result 5\n")])
        for name in NAMES:
            self.assertIn(name, got, out)
            self.assertEqual(meta[name][1], "counter" if name.endswith("_total") else "gauge")
            # the same labels as the file the shim writes for the same process
            self.assertEqual(got[name][0], from_file[name][0], name)
        self.assertGreater(got["betapool_gil_wait_seconds_total"][1], 0)
        self.assertGreater(got["betapool_gil_held_seconds_total"][1], 0)
        self.assertGreaterEqual(got["betapool_gil_held_seconds_total"][1],
                                from_file["betapool_gil_held_seconds_total"][1])
        self.assertGreaterEqual(got["betapool_threads"][1], 4)
        self.assertLess(abs(got["betapool_last_update_timestamp_seconds"][1] - time.time()), 5.0)

    def test_registers_like_prometheus_clients_own_and_collects_nothing_without_the_shim(self):
        py = prometheus_client_python()
        if py is None:
            self.skipTest(f"prometheus_client is not installed: {APT}")
        code = ("import json, prometheus_client\n"
                "from prometheus_client import CollectorRegistry, generate_latest\n"
                "from betapool.prometheus import BetapoolCollector\n"
                "r = CollectorRegistry()\n"
                "c = BetapoolCollector(registry=r)\n"
                "try:\n"
                "    BetapoolCollector(registry=r); dup = False\n"
                "except ValueError:\n"
                "    dup = True\n"
                "BetapoolCollector(registry=None)\n"
                "d = BetapoolCollector()\n"
                "print(json.dumps({'dup': dup, 'text': generate_latest(r).decode(),\n"
                "    'default': d in prometheus_client.REGISTRY._collector_to_names}))\n")
        cp = subprocess.run([py, "-c", code], env=dict(common.shim_env(preload=False),
                                                       PYTHONPATH=PACKAGE_PARENT),
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = json.loads(cp.stdout)
        self.assertTrue(out["dup"], "a second collector of the same names was accepted")
        self.assertTrue(out["default"], "not registered in prometheus_client.REGISTRY by default")
        self.assertEqual(out["text"], "", "metrics without the shim")

    def test_import_betapool_needs_no_prometheus_client(self):
        code = ("import sys\n"
                "sys.modules['prometheus_client'] = None  # as if not installed\n"
                "import betapool\n"
                "print(betapool.active())\n"
                "try:\n"
                "    import betapool.prometheus\n"
                "except ImportError as e:\n"
                "    print('ImportError', e.name.split('.')[0])\n")
        cp = subprocess.run([sys.executable, "-c", code],
                            env=dict(common.shim_env(), PYTHONPATH=PACKAGE_PARENT),
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, "True\nImportError prometheus_client\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


class NodeExporterPrometheusTest(common.ShimTestCase):
    """A real node_exporter serves the directory; a real Prometheus scrapes
    it every second. Both are started here on free loopback ports of their
    own (never the packages' services or ports) and killed at the end."""
    SCRAPE_S = 1.0

    def setUp(self):
        self.node_exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
        self.prometheus = shutil.which("prometheus")
        if not self.node_exporter or not self.prometheus:
            self.skipTest(f"node_exporter or prometheus is not installed: {APT}")
        self.tmp = tempfile.mkdtemp(prefix="betapool-prom-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dir = os.path.join(self.tmp, "textfile")
        os.mkdir(self.dir)

    def spawn(self, argv, name):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        self.addCleanup(log.close)
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp,
                             env=common.shim_env(preload=False), start_new_session=True)

        def stop():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.addCleanup(stop)
        return p

    def server_log(self, name):
        return read_text(os.path.join(self.tmp, name + ".log")) or ""

    def query(self, base, q):
        text = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        body = json.loads(text)
        self.assertEqual(body["status"], "success", text)
        return body["data"]["result"]

    def test_prometheus_shows_the_metrics_within_two_scrapes_and_drops_them_after_exit(self):
        ne_port, prom_port = free_port(), free_port()
        while prom_port == ne_port:
            prom_port = free_port()
        ne = self.spawn([self.node_exporter, f"--web.listen-address=127.0.0.1:{ne_port}",
                         "--collector.disable-defaults", "--collector.textfile",
                         f"--collector.textfile.directory={self.dir}"], "node_exporter")
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n"
                    f"  scrape_interval: {self.SCRAPE_S:g}s\n"
                    f"  evaluation_interval: {self.SCRAPE_S:g}s\n"
                    "scrape_configs:\n"
                    "  - job_name: node\n"
                    "    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{ne_port}']\n")
        base = f"http://127.0.0.1:{prom_port}"
        prom = self.spawn([self.prometheus, f"--config.file={config}",
                           f"--storage.tsdb.path={os.path.join(self.tmp, 'tsdb')}",
                           f"--web.listen-address=127.0.0.1:{prom_port}"], "prometheus")

        def ready():
            for p, name in ((ne, "node_exporter"), (prom, "prometheus")):
                if p.poll() is not None:
                    self.fail(f"{name} exited: {self.server_log(name)[-2000:]}")
            try:
                http_get(f"http://127.0.0.1:{ne_port}/metrics")
                # up: the target has been scraped once, so scrapes are under way
                return self.query(base, "up") and True
            except OSError:
                return False
        self.assertTrue(wait_for(ready, 60.0, 0.2), "the servers did not come up: "
                        + self.server_log("prometheus")[-2000:])

        env = common.shim_env({"BETAPOOL_METRICS_DIR": self.dir})
        p = subprocess.Popen([sys.executable, WORKLOAD, "5.0", "3"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        path = os.path.join(self.dir, f"betapool-{p.pid}.prom")
        self.assertTrue(wait_for(lambda: os.path.exists(path), 3.0), "no metrics file")
        t_file = time.monotonic()
        sel = f'{{pid="{p.pid}",program="prom_threads.py",job="node"}}'
        result = wait_for(lambda: self.query(base, "betapool_threads" + sel), 5.0, 0.05)
        seen_after = time.monotonic() - t_file
        self.assertTrue(result, "Prometheus never showed betapool_threads")
        self.assertLessEqual(seen_after, 2 * self.SCRAPE_S,
                             f"shown {seen_after:.2f} s after the file appeared")
        # The file appears with the shim's thread, at the first thread start:
        # its first values may be from before the workload's three threads
        # all started (seen on a loaded machine: 2). Main and the three are
        # shown within two more scrapes.
        def shown_threads():
            r = self.query(base, "betapool_threads" + sel)
            return r and float(r[0]["value"][1])
        self.assertTrue(wait_for(lambda: (shown_threads() or 0) >= 4, 2 * self.SCRAPE_S + 1.0, 0.05),
                        f"betapool_threads shown {shown_threads()}, not 4 or more")
        sys.stderr.write(f"\n  prometheus: betapool_threads shown {seen_after:.2f} s after the file appeared "
                         f"(scrape interval {self.SCRAPE_S:g} s)\n")
        every = wait_for(lambda: {r["metric"]["__name__"] for r in
                                  self.query(base, f'{{__name__=~"betapool_.+",pid="{p.pid}"}}')}
                         >= set(NAMES), 2 * self.SCRAPE_S, 0.1)
        self.assertTrue(every, self.query(base, f'{{__name__=~"betapool_.+",pid="{p.pid}"}}'))
        rate = wait_for(lambda: self.query(base, "rate(betapool_gil_held_seconds_total" + sel + "[3s])"),
                        4 * self.SCRAPE_S, 0.1)
        self.assertTrue(rate and float(rate[0]["value"][1]) > 0, rate)

        out, err = p.communicate(timeout=60)
        self.assertEqual((p.returncode, out, err), (0, "result 5\n", ""))
        self.assertFalse(os.path.exists(path), "the file is left after exit")
        # the next scrape misses the series: Prometheus marks it stale
        gone = wait_for(lambda: not self.query(base, "betapool_threads" + sel), 3 * self.SCRAPE_S, 0.1)
        self.assertTrue(gone, "Prometheus still shows the ended program")


if __name__ == "__main__":
    unittest.main()
