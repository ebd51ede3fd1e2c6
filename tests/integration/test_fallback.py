"""A CPython betapool does not understand: it must fall back to observing,
say so once, and never park anything. Simulated by preloading a library
(build/tests/libhide_gil.so) that hides CPython's GIL creation from betapool."""
import os
import unittest

import common

HIDE = os.path.join(common.BUILD, "tests", "libhide_gil.so")
FAKE = os.path.join(common.BUILD, "tests", "libfake_debug_offsets.so")

POOL = r'''
import threading, time
from concurrent.futures import ThreadPoolExecutor
def work(n):
    s = 0
    for i in range(20000):
        s += i * n
    return s
with ThreadPoolExecutor(32) as ex:
    total = sum(ex.map(work, range(400)))
time.sleep(0.25)
print(total, threading.active_count())
'''

# Under FAKE_DEBUG_FREE_THREADED the low int of the switch interval (µs)
# stands for `enabled`: 2**32 µs reads as 0, "off", before the first tick
# (the shim's thread starts with the first thread); 5 ms turns it "on".
FREE_THREADED = r'''
import sys, threading, time
sys.setswitchinterval(2**32 / 1e6)
def work(n):
    s = 0
    for i in range(20000):
        s += i * n
    return s
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
time.sleep(0.3)
sys.setswitchinterval(0.005)
time.sleep(0.3)
print(threading.active_count())
'''


class TestUnknownCPython(common.ShimTestCase):
    def run_hidden(self, python, extra=None):
        env = common.shim_env(extra)
        env["LD_PRELOAD"] = HIDE + " " + common.LIB
        return common.run_logged_env(python, ["-c", POOL], env)

    def test_gil_not_found_falls_back_to_observing(self):
        if not os.path.exists(HIDE):
            self.skipTest(f"{HIDE} not built")
        for label, py in self.each_python():
            with self.subTest(python=label):
                stock = common.run([py, "-c", POOL], preload=False)
                cp, recs = self.run_hidden(py, {"BETAPOOL_VERBOSE": "1", "BETAPOOL_MODE": "auto"})
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertEqual(cp.stdout, stock.stdout)
                start = recs[0]
                self.assertEqual(start["event"], "start")
                self.assertEqual(start["gil"], "not_found")
                notes = [r for r in recs if r["event"] == "note" and "GIL was not found" in r["message"]]
                self.assertEqual(len(notes), 1, "said once in the log")
                self.assertEqual(cp.stderr.count("GIL was not found"), 1, "said once on stderr")
                self.assertFalse(any(r.get("parked", 0) > 0 for r in recs if r["event"] == "process"))
                self.assertEqual(recs[-1]["event"], "exit")
                self.assertEqual(recs[-1].get("parks", 0), 0, "nothing was ever parked")
                self.assertFalse(any(r["event"] == "sample" and r["gil_held_ms"] > 0 for r in recs))

    def with_debug_offsets(self):
        """(label, path) of the Pythons that publish debug offsets (3.13+);
        the others are reported as skipped subtests."""
        for label, py in self.each_python():
            cp = common.run([py, "-c", "import sys; print(sys.version_info >= (3, 13))"], preload=False,
                            timeout=60)
            if cp.stdout.strip() != "True":
                with self.subTest(python=label):
                    self.skipTest(f"{label} is older than 3.13: no debug offsets")
                continue
            yield label, py

    def test_debug_offsets_confirm_the_gil(self):
        """3.13, 3.14 and 3.15: the GIL found is where CPython's own table
        (each version's layout, shim/cpython.h) puts it."""
        for label, py in self.with_debug_offsets():
            with self.subTest(python=label):
                cp, recs = common.run_logged(py, ["-c", POOL])
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertEqual(recs[0]["gil"], "found")
                msgs = [r["message"] for r in recs if r["event"] == "note"]
                self.assertIn("the GIL's place agrees with CPython's own debug offsets", msgs)
                self.assertFalse([m for m in msgs if "not known" in m or "layout" in m], msgs)

    def run_faked(self, py, script, fake, extra=None):
        env = common.shim_env(dict(fake, **(extra or {})))
        # Last: the loader runs the preloaded libraries' constructors last
        # first, so the table is rewritten before the shim's constructor reads it.
        env["LD_PRELOAD"] = env["LD_PRELOAD"] + " " + FAKE
        return common.run_logged_env(py, ["-c", script], env)

    def test_newer_version_falls_back_to_the_first_takes(self):
        """A table of a version betapool does not know (3.16, faked) is not
        walked: a note says so, the first takes' check decides, and the GIL
        is followed."""
        if not os.path.exists(FAKE):
            self.skipTest(f"{FAKE} not built")
        for label, py in self.with_debug_offsets():
            with self.subTest(python=label):
                stock = common.run([py, "-c", POOL], preload=False)
                cp, recs = self.run_faked(py, POOL, {"FAKE_DEBUG_VERSION": "0x031000f0"})
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertEqual(cp.stdout, stock.stdout)
                self.assertEqual(recs[0]["gil"], "found")
                msgs = [r["message"] for r in recs if r["event"] == "note"]
                self.assertIn("CPython 3.16's debug offsets are not known to betapool: the GIL's layout is "
                              "checked by its first takes only", msgs)
                self.assertNotIn("the GIL's place agrees with CPython's own debug offsets", msgs)
                self.assertFalse([m for m in msgs if "did not behave" in m], msgs)
                self.assertTrue(any(r["event"] == "sample" and r["gil_held_ms"] > 0 for r in recs),
                                "the GIL is followed")

    def test_free_threaded_is_observed_only(self):
        """A free-threaded build (faked: its flag set in a default build,
        whose GIL struct begins with the switch interval where a
        free-threaded one has `enabled`): gil disabled at start, the GIL
        turned on at run time is noted, nothing is followed or acted on."""
        if not os.path.exists(FAKE):
            self.skipTest(f"{FAKE} not built")
        for label, py in self.with_debug_offsets():
            with self.subTest(python=label):
                stock = common.run([py, "-c", FREE_THREADED], preload=False)
                cp, recs = self.run_faked(py, FREE_THREADED, {"FAKE_DEBUG_FREE_THREADED": "1"},
                                          {"BETAPOOL_MODE": "auto"})
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertEqual(cp.stdout, stock.stdout)
                self.assertEqual(recs[0]["gil"], "disabled")
                msgs = [r["message"] for r in recs if r["event"] == "note"]
                self.assertIn("free-threaded CPython without a GIL: betapool observes thread starts only", msgs)
                self.assertIn("the free-threaded CPython turned its GIL on at run time: betapool stays "
                              "observe-only", msgs)
                self.assertFalse([m for m in msgs if "GIL was not found" in m], msgs)
                self.assertFalse(any(r["event"] == "sample" and r["gil_held_ms"] > 0 for r in recs),
                                 "no GIL is followed")
                ex = recs[-1]
                self.assertEqual(ex["event"], "exit")
                self.assertEqual(ex.get("parks", 0), 0)
                self.assertEqual(sum((ex.get("decisions") or {}).values()), 0, ex.get("decisions"))


if __name__ == "__main__":
    unittest.main()
