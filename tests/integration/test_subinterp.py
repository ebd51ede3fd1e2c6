"""Sub-interpreters with a GIL of their own (3.12+): each GIL is learned at
its create_gil and followed on its own. A thread that computes in one holds
that GIL: its beta_io is near 0 (before, its computing counted as blocked
outside the main GIL: 0.9995), and it is never pinned with the main GIL's
threads nor parked by their gate."""
import os
import re
import shutil
import tempfile
import unittest

import common

WORKLOAD = os.path.join(common.WORKLOADS, "subinterp.py")
STEPS = 3_000_000


def minor(label):
    m = re.search(r"3\.(\d+)$", label)
    return int(m.group(1)) if m else 0


class TestSubinterpreters(common.ShimTestCase):
    def each_python_312(self):
        for label, path in self.each_python():
            if minor(label) >= 12:
                yield label, path

    def run_workload(self, py, preload=True):
        out = tempfile.mkdtemp(prefix="betapool-subinterp-")
        self.addCleanup(shutil.rmtree, out, True)
        if preload:
            cp, recs = common.run_logged(py, [WORKLOAD, str(STEPS), out])
        else:
            cp, recs = common.run([py, WORKLOAD, str(STEPS), out], preload=False), []
        subs = {}
        for name in os.listdir(out):
            with open(os.path.join(out, name)) as f:
                subs[int(name)] = f.read().split()
        return cp, recs, subs

    def test_each_gil_its_own(self):
        for label, py in self.each_python_312():
            with self.subTest(python=label):
                stock, _, stock_subs = self.run_workload(py, preload=False)
                self.assertEqual(stock.returncode, 0, stock.stderr)
                self.assertEqual(len(stock_subs), 2, "the sub-interpreters ran")
                cp, recs, subs = self.run_workload(py)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertEqual(cp.stdout, stock.stdout)
                self.assertEqual(recs[0]["gil"], "found")
                notes = [r["message"] for r in recs if r["event"] == "note"]
                self.assertEqual(sum("sub-interpreter made a GIL of its own" in m for m in notes), 1, notes)
                # A joined thread may still be ending when the exit record is
                # written: it is then in that record's list, not a thread_exit.
                exits = [r for r in recs if r["event"] == "thread_exit"] + [
                    r for r in recs[-1].get("threads", []) if r.get("via") != "main"]
                self.assertEqual(recs[-1]["event"], "exit")
                other = [r for r in exits if r.get("other_gil")]
                self.assertEqual(len(other), 2, "the two threads that took a sub-interpreter's GIL")
                self.assertEqual(sorted(r["tid"] for r in other), sorted(subs))
                for r in other:
                    # They computed holding their own GIL: held, not blocked.
                    self.assertLess(r["beta_io"], 0.2, r)
                    self.assertGreater(r["gil_held_ms"], 50, r)
                    self.assertEqual(r["parked_ms"], 0.0, "never parked by the main GIL's gate")
                # The main GIL's four are followed as before (their figures
                # are test_observe's business).
                main_workers = [r for r in exits if not r.get("other_gil") and r["python"]]
                self.assertEqual(len(main_workers), 4)
                for r in main_workers:
                    self.assertGreater(r["gil_held_ms"], 0, r)
                # Inside the sub-interpreters, at the end of their work, every
                # CPU the process may use (whether or not betapool pinned the
                # main GIL's threads meanwhile; the workload prints the mask
                # its main thread had at the start: at the end that thread
                # may still be pinned, which failed a fresh clone on 3.14).
                process_cpus = cp.stdout.split()
                for tid, cpus in subs.items():
                    self.assertEqual(cpus, process_cpus, f"sub-interpreter thread {tid} was pinned")


if __name__ == "__main__":
    unittest.main()
