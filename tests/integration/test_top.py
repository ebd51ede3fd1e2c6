"""`betapool top LOG`: on a finished log (one frame, then exit), following
the log of a live run (a frame per interval, exit after the program's exit
record), a killed program (exit without an exit record), and on a terminal
(tmux) where frames replace each other."""
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

BETAPOOL = os.path.join(common.ROOT, "scripts", "betapool")

# Four threads that compute while a fifth sleeps, for about SECONDS s.
PROGRAM = """
import sys, threading, time
end = time.monotonic() + float(sys.argv[1])
def cpu():
    x = 0
    while time.monotonic() < end:
        for i in range(20000):
            x += i
def sleeper():
    while time.monotonic() < end:
        time.sleep(0.01)
ts = [threading.Thread(target=cpu) for _ in range(4)] + [threading.Thread(target=sleeper)]
for t in ts: t.start()
for t in ts: t.join()
print("done", flush=True)
"""
SEPARATOR = "-" * 40


def frames(text):
    return [f for f in text.split(SEPARATOR + "\n") if f.strip()]


def header_t(frame):
    m = re.search(r" t (\d+\.\d) s  \[(\w+)\]", frame.splitlines()[0])
    return float(m.group(1)), m.group(2)


def rows(frame):
    """{tid: [cells]} of a frame's thread table."""
    out = {}
    for ln in frame.splitlines():
        cells = ln.split()
        if cells and cells[0].isdigit():
            out[int(cells[0])] = cells[1:]
    return out


class TopTest(common.ShimTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="betapool-top-")
        self.log = os.path.join(self.dir, "run.jsonl")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def program(self, seconds, mode="auto"):
        return subprocess.Popen([sys.executable, BETAPOOL, "run", "--mode", mode, "--interval",
                                 "100", "--lib", common.LIB, "--log", self.log, "--",
                                 sys.executable, "-c", PROGRAM, str(seconds)],
                                env=common.shim_env(preload=False), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def top(self, *args, timeout=60):
        return subprocess.run([sys.executable, BETAPOOL, "top", self.log] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def test_finished_log_printed_once(self):
        prog = self.program(0.6)
        out, err = prog.communicate(timeout=60)
        self.assertEqual(prog.returncode, 0, err)
        recs = common.read_log(self.log)
        t0 = time.monotonic()
        cp = self.top()
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        (frame,) = frames(cp.stdout)
        t, state = header_t(frame)
        self.assertEqual(state, "exited")
        self.assertAlmostEqual(t, recs[-1]["t"], delta=0.06)
        last = [r for r in recs if r["event"] == "process"][-1]
        self.assertIn(f"threads {last['threads']}  K {last['k']}  parked {last['parked']}  "
                      f"beta_io {last['beta_io']:.3f}", frame)
        self.assertIn(f"GIL wait {100 * last['gil_wait_share']:.0f}%", frame)
        self.assertIn("pinned CPU ", frame)
        self.assertIn(f"gate {last['gate']}  forced {last['forced']}  favoured {last['favoured']}",
                      frame)
        # the threads are the last interval's samples, busiest (held) first
        i = recs.index(last)
        j = max(k for k in range(i) if recs[k]["event"] == "process")
        samples = [r for r in recs[j + 1:i] if r["event"] == "sample"]
        table = rows(frame)
        self.assertEqual(set(table), {s["tid"] for s in samples})
        order = [int(ln.split()[0]) for ln in frame.splitlines() if ln.split()
                 and ln.split()[0].isdigit()]
        held = {s["tid"]: s["gil_held_ms"] for s in samples}
        self.assertEqual([held[t] for t in order], sorted(held.values(), reverse=True))
        decisions = [r for r in recs if r["event"] == "decision"]
        self.assertIn(f"decisions {len(decisions)}", frame)
        # --once and --sort on the same log
        cp = self.top("--once", "--sort", "cpu", "--rows", "1")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        (frame,) = frames(cp.stdout)
        self.assertEqual(len(rows(frame)), 1)
        cpu = {s["tid"]: s["cpu_ms"] for s in samples}
        self.assertEqual(cpu[next(iter(rows(frame)))], max(cpu.values()))

    def test_follows_a_live_run_and_exits_with_it(self):
        # top first: it waits for the log to appear
        top = subprocess.Popen([sys.executable, BETAPOOL, "top", self.log, "--wait", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        prog = self.program(2.0)
        out, err = prog.communicate(timeout=60)
        prog_end = time.monotonic()
        self.assertEqual(prog.returncode, 0, err)
        self.assertEqual(out, "done\n")
        try:
            tout, terr = top.communicate(timeout=30)
        finally:
            if top.poll() is None:
                top.kill()
        top_end = time.monotonic()
        self.assertEqual(top.returncode, 0, terr)
        self.assertLess(top_end - prog_end, 5, "top did not end soon after the program")
        fs = frames(tout)
        # a frame per interval (2 s at 100 ms, with slack for a busy machine)
        self.assertGreaterEqual(len(fs), 8, tout[-2000:])
        times = [header_t(f) for f in fs]
        self.assertEqual(times[-1][1], "exited")
        self.assertTrue(all(s == "running" for _, s in times[:-1]), times)
        self.assertEqual([t for t, _ in times], sorted(t for t, _ in times))
        self.assertGreater(times[-1][0], 1.5)
        # while the pool ran, top showed its threads and K
        busy = [f for f in fs[:-1] if len(rows(f)) >= 5]
        self.assertTrue(busy, tout[-3000:])
        self.assertRegex(busy[-1], r"threads \d+  K \d+  parked \d+")
        recs = common.read_log(self.log)
        self.assertEqual(recs[-1]["event"], "exit")
        self.assertAlmostEqual(times[-1][0], recs[-1]["t"], delta=0.06)

    def test_killed_program(self):
        prog = self.program(30.0)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if os.path.exists(self.log) and '"process"' in open(self.log).read():
                    break
                time.sleep(0.05)
            top = subprocess.Popen([sys.executable, BETAPOOL, "top", self.log],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)
            os.kill(prog.pid, signal.SIGKILL)       # the wrapper exec'd: this is Python
        finally:
            prog.kill()
            prog.communicate()
        tout, terr = top.communicate(timeout=30)
        self.assertEqual(top.returncode, 1, terr)
        self.assertIn("ended without an exit record", terr)
        self.assertEqual(header_t(frames(tout)[-1])[1], "gone")

    def test_terminal_redraw(self):
        """On a terminal (tmux), one frame on the screen, the last one."""
        if not shutil.which("tmux"):
            self.skipTest("tmux is not installed")
        prog = self.program(1.0)
        prog.communicate(timeout=60)
        session = f"betapool-top-{os.getpid()}"
        cmd = f"{sys.executable} {BETAPOOL} top {self.log}; sleep 30"
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", cmd],
                       check=True, timeout=30)
        self.addCleanup(subprocess.run, ["tmux", "kill-session", "-t", session],
                        capture_output=True, timeout=30)
        screen = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "[exited]" not in screen:
            time.sleep(0.2)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True, timeout=30).stdout
        lines = screen.splitlines()
        self.assertTrue(lines and lines[0].startswith("betapool top  run.jsonl"), screen)
        self.assertIn("[exited]", lines[0])
        self.assertEqual(screen.count("betapool top"), 1, screen)
        self.assertNotIn(SEPARATOR, screen)
        self.assertTrue(all(len(ln) <= 120 for ln in lines))
        self.assertIn("TID", screen)


if __name__ == "__main__":
    unittest.main()
