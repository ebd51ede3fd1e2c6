"""The shim's own thread must never keep a process alive."""
import os
import tempfile
import time
import unittest

import common

# A forked child whose only thread is not the process's first one ends when
# that thread ends (glibc exits as the last thread goes). Found by CPython's
# test_threading under the shim: the child's monitor thread kept it alive.
FORK_FROM_THREAD = r'''
import os, sys, threading, time, warnings
warnings.simplefilter("ignore")
def worker():
    pid = os.fork()
    if pid:
        t0 = time.time()
        while True:
            r, st = os.waitpid(pid, os.WNOHANG)
            if r:
                break
            if time.time() - t0 > 10:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                print("child hung")
                sys.exit(1)
            time.sleep(0.01)
        print("child ended", os.waitstatus_to_exitcode(st))
        sys.exit(0)
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
w = threading.Thread(target=worker)
w.start()
w.join()
'''


class TestLifecycle(common.ShimTestCase):
    def test_child_of_a_thread_ends_with_its_last_thread(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                d = tempfile.mkdtemp(prefix="betapool-life-")
                t0 = time.monotonic()
                cp = common.run([py, "-c", FORK_FROM_THREAD],
                                {"BETAPOOL_LOG": os.path.join(d, "log-%p.jsonl")}, timeout=60)
                self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
                self.assertIn("child ended 0", cp.stdout)
                self.assertLess(time.monotonic() - t0, 8)
                logs = os.listdir(d)
                # The parent's log, and the child's own (it started a thread).
                self.assertEqual(len(logs), 2, logs)
                for name in logs:
                    recs = common.read_log(os.path.join(d, name))
                    self.assertEqual(recs[-1]["event"], "exit", name)


if __name__ == "__main__":
    unittest.main()
