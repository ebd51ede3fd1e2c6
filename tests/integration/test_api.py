"""The Python API: `import betapool; betapool.metrics()` and `active()`,
in a program under the shim and without it, and its structure held to
include/betapool.h."""
import json
import os
import re
import subprocess
import sys
import unittest

import common

PACKAGE_PARENT = os.path.join(common.ROOT, "python")
HEADER = os.path.join(common.ROOT, "include", "betapool.h")

# Computes on four threads, then reports what betapool.metrics() said while
# they ran and after, and the raw size the library filled in.
PROBE = """
import ctypes, json, sys, threading, time
import betapool
seen = []
def work():
    end = time.monotonic() + 0.6
    x = 0
    while time.monotonic() < end:
        x += 1
ts = [threading.Thread(target=work) for _ in range(4)]
for t in ts: t.start()
while any(t.is_alive() for t in ts):
    m = betapool.metrics()
    if m is not None:
        seen.append(m["python_threads"])
    time.sleep(0.02)
for t in ts: t.join()
time.sleep(0.25)
m = betapool.metrics()
raw = None
fn = getattr(ctypes.CDLL(None), "betapool_get_metrics", None)
if fn is not None:
    buf = ctypes.create_string_buffer(4096)
    raw = fn(buf, 4096)
print(json.dumps({"metrics": m, "active": betapool.active(), "seen": seen, "raw": raw,
                  "struct": ctypes.sizeof(betapool._Metrics), "version": betapool.__version__}))
"""
CTYPES = {"uint32_t": "c_uint32", "int32_t": "c_int32", "uint64_t": "c_uint64",
          "double": "c_double"}


def header_fields(struct="betapool_metrics"):
    """[(name, C type)] of a struct of the header, in order."""
    with open(HEADER) as f:
        text = f.read()
    body = re.search(r"struct " + struct + r" \{(.*?)\};", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    out = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        ctype, names = decl.split(None, 1)
        out += [(n.strip(), ctype) for n in names.split(",")]
    return out


# A worker computes, then sleeps; its own times, read by
# betapool._threadtimes at the start, between and at the end.
THREAD_TIMES = """
import json, threading, time
from betapool import _threadtimes
out = {}
def work():
    a = _threadtimes.read()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    b = _threadtimes.read()
    time.sleep(0.3)
    c = _threadtimes.read()
    out["reads"] = [a, b, c]
t = threading.Thread(target=work)
t.start(); t.join()
out["main"] = _threadtimes.read()
print(json.dumps(out))
"""


class ApiTest(common.ShimTestCase):
    def probe(self, env):
        env = dict(env, PYTHONPATH=PACKAGE_PARENT)
        cp = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, timeout=120)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return json.loads(cp.stdout)

    def test_metrics_under_the_shim(self):
        out = self.probe(common.shim_env({"BETAPOOL_MODE": "enforce",
                                          "BETAPOOL_MAX_WORKERS": "6"}))
        m = out["metrics"]
        self.assertTrue(out["active"])
        self.assertIsInstance(m, dict)
        # the library filled in exactly the structure this package reads
        self.assertEqual(out["raw"], out["struct"])
        self.assertEqual(m["version"], out["version"])
        self.assertEqual(m["mode"], "auto")
        self.assertIs(m["gil_found"], True)
        self.assertEqual(m["max_workers"], 6)
        # the seed's keys, from the same figures as betapool's own
        for seed, own in (("current_threads", "python_threads"),
                          ("avg_blocking_ratio", "beta"), ("scale_up_count", "scale_ups"),
                          ("scale_down_count", "scale_downs"), ("min_workers", "min_workers"),
                          ("max_workers", "max_workers")):
            self.assertEqual(m[seed], m[own], seed)
        for key in ("beta_io", "k", "parked", "vetoes", "pinned_cpu", "gil_wait_share",
                    "threads_started", "samples"):
            self.assertIn(key, m)
        # four workers and the main thread were seen while they ran; one at the end
        self.assertIn(5, out["seen"])
        self.assertEqual(m["current_threads"], 1)
        self.assertGreaterEqual(m["threads_started"], 5)
        self.assertGreaterEqual(m["threads_exited"], 4)
        self.assertGreaterEqual(m["samples"], 1)
        self.assertGreaterEqual(m["k"], 1)
        self.assertTrue(m["pinned_cpu"] is None or m["pinned_cpu"] >= 0)
        self.assertTrue(0.0 <= m["beta_io"] <= 1.0)
        # mode enforce is auto now; the gate and the GIL priority on by default
        self.assertIs(m["gate"], True)
        self.assertIs(m["priority"], True)
        self.assertIn(m["gate_shut"], (True, False))
        self.assertLessEqual(m["gate_opens"], m["gate_shuts"])
        self.assertLessEqual(m["gate_shuts"] - m["gate_opens"], 1)
        out = self.probe(common.shim_env({"BETAPOOL_MODE": "observe", "BETAPOOL_GATE": "off"}))
        self.assertEqual(out["metrics"]["mode"], "observe")
        self.assertIs(out["metrics"]["gate"], False)
        self.assertIs(out["metrics"]["gate_shut"], False)

    def test_no_shim_no_metrics(self):
        out = self.probe(common.shim_env(preload=False))
        self.assertIsNone(out["metrics"])
        self.assertFalse(out["active"])
        self.assertIsNone(out["raw"])
        self.assertEqual(out["seen"], [])

    def test_mode_off_is_not_active(self):
        out = self.probe(common.shim_env({"BETAPOOL_MODE": "off"}))
        self.assertIsNone(out["metrics"])
        self.assertFalse(out["active"])
        self.assertEqual(out["raw"], -1)

    def test_structure_matches_header(self):
        sys.path.insert(0, PACKAGE_PARENT)
        try:
            import betapool
        finally:
            sys.path.remove(PACKAGE_PARENT)
        import ctypes
        want = [(name, getattr(ctypes, CTYPES[ctype])) for name, ctype in header_fields()]
        # ctypes.c_uint32 is c_uint here, and so on: the same type objects
        self.assertEqual(list(betapool._FIELDS), want)

    def test_thread_times(self):
        fields = ("now", "held", "wait", "idle", "parked", "outside")
        for label, py in self.each_python():
            with self.subTest(python=label):
                cp = common.run([py, "-c", THREAD_TIMES], {"PYTHONPATH": PACKAGE_PARENT})
                self.assertEqual(cp.returncode, 0, cp.stderr)
                out = json.loads(cp.stdout)
                a, b, c = (dict(zip(fields, r)) for r in out["reads"])
                self.assertIsNotNone(out["main"])
                for x, y in ((a, b), (b, c)):
                    for k in fields:
                        self.assertGreaterEqual(y[k], x[k], k)      # counters never go back
                computing = {k: b[k] - a[k] for k in fields}
                sleeping = {k: c[k] - b[k] for k in fields}
                self.assertGreaterEqual(computing["now"], 0.29)
                # every nanosecond in one phase
                self.assertAlmostEqual(sum(computing[k] for k in fields[1:]), computing["now"],
                                       delta=0.01)
                self.assertGreaterEqual(computing["held"] + computing["wait"], 0.25, computing)
                self.assertLess(computing["outside"], 0.05, computing)
                self.assertGreaterEqual(sleeping["outside"], 0.25, sleeping)
                self.assertLess(sleeping["held"], 0.05, sleeping)
        for env, why in ((common.shim_env(preload=False), "no shim"),
                         (common.shim_env({"BETAPOOL_MODE": "off"}), "mode off")):
            with self.subTest(case=why):
                cp = subprocess.run([sys.executable, "-c", THREAD_TIMES], capture_output=True,
                                    text=True, timeout=60, env=dict(env, PYTHONPATH=PACKAGE_PARENT))
                self.assertEqual(cp.returncode, 0, cp.stderr)
                out = json.loads(cp.stdout)
                self.assertEqual(out, {"reads": [None, None, None], "main": None})

    def test_thread_times_structure_matches_header(self):
        sys.path.insert(0, PACKAGE_PARENT)
        try:
            from betapool import _threadtimes
        finally:
            sys.path.remove(PACKAGE_PARENT)
        import ctypes
        want = [(name, getattr(ctypes, CTYPES[ctype]))
                for name, ctype in header_fields("betapool_thread_times")]
        self.assertEqual(list(_threadtimes.ThreadTimes._fields_), want)

    def test_version_is_the_projects(self):
        sys.path.insert(0, PACKAGE_PARENT)
        try:
            import betapool
        finally:
            sys.path.remove(PACKAGE_PARENT)
        with open(os.path.join(common.ROOT, "meson.build")) as f:
            meson = re.search(r"version: '([^']+)'", f.read()).group(1)
        with open(os.path.join(common.ROOT, "pyproject.toml")) as f:
            pyproject = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
        self.assertEqual(betapool.__version__, meson)
        self.assertEqual(pyproject, meson)


if __name__ == "__main__":
    unittest.main()
