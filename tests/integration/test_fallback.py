"""A CPython betapool does not understand: it must fall back to observing,
say so once, and never park anything. Simulated by preloading a library
(build/tests/libhide_gil.so) that hides CPython's GIL creation from betapool."""
import os
import unittest

import common

HIDE = os.path.join(common.BUILD, "tests", "libhide_gil.so")

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

    def test_313_debug_offsets_confirm_the_gil(self):
        found = dict(common.pythons()).get("pyenv-3.13")
        if not found:
            self.skipTest("pyenv 3.13 is not installed on this machine")
        cp, recs = common.run_logged(found, ["-c", POOL])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(recs[0]["gil"], "found")
        msgs = [r["message"] for r in recs if r["event"] == "note"]
        self.assertIn("the GIL's place agrees with CPython's own debug offsets", msgs)


if __name__ == "__main__":
    unittest.main()
