"""GIL affinity shared among processes (the CPU registry), end to end.

Processes under betapool agree on CPUs through one registry file (each test
gives its processes a registry of its own, BETAPOOL_REGISTRY in a temporary
directory, so other programs on the machine do not take part). While they
run, the test reads the registry every 10 ms under a shared flock (the shim
writes under an exclusive one) and asserts from what it saw:
- two GIL-bound processes never hold the same CPU, and each holds one
  (distinct ones) unless its log says the machine was too busy;
- a third on two CPUs never doubles up, and says why it holds none;
- a process killed with SIGKILL holds nothing once another process has read
  the registry (a dead claim is never in the same snapshot as the entry of
  the process that read it), and a claim planted for a dead pid is cleared;
- a fork child (multiprocessing) starts with no CPU, writes its exit record
  at its os._exit, and leaves its parent's entry in place;
- os._exit and a Python SIGTERM handler that calls it end with the exit
  record and the entry removed; SIGTERM without a handler still ends the
  process by the signal (the program's behaviour unchanged);
- a process confined to one CPU (taskset) never registers, never pins, and
  says why;
- a corrupt registry, a symlink, or a file others may write is never used
  or changed, and the log says so in one note.
Workload: workloads/share_cpus.py (threads that loop until a deadline, so
they ask for the GIL for the whole run however busy the machine is)."""
import fcntl
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from common import WORKLOADS, ShimTestCase, read_log, shim_env
from test_auto import note

SLOTS, ENTRY = 127, struct.Struct("=iiQIIQ")
BUSY = ("every cpu busy", "every free cpu busy", "cpu contested", "registry was busy")


def read_registry(path):
    """{pid: cpu} of the registry's entries, read under a shared lock."""
    try:
        with open(path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            data = f.read(4096)
    except FileNotFoundError:
        return {}
    if len(data) != 4096 or data[:8] != b"BPCPUS01":
        return {}
    out = {}
    for i in range(SLOTS):
        pid, cpu, _start, _load, _r, _stamp = ENTRY.unpack_from(data, 16 + ENTRY.size * i)
        if pid:
            out[pid] = cpu
    return out


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def plant(path, entries):
    """Write a registry holding entries [(pid, cpu, start)]."""
    data = bytearray(4096)
    struct.pack_into("=8sII", data, 0, b"BPCPUS01", 1, SLOTS)
    for i, (pid, cpu, start) in enumerate(entries):
        ENTRY.pack_into(data, 16 + ENTRY.size * i, pid, cpu, start, 1000, 0, 1)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, bytes(data))
    os.close(fd)


def plant_bytes(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data)
    os.close(fd)


def plant_mode(path, mode):
    plant(path, [])
    os.chmod(path, mode)


class Watch(threading.Thread):
    """Reads the registry every 10 ms until stopped: snapshots [(t, {pid: cpu})]."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.snaps, self.done = path, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            self.snaps.append((time.monotonic(), read_registry(self.path)))
            time.sleep(0.01)

    def stop(self):
        self.done.set()
        self.join()
        return self.snaps


def doubles(snaps):
    """Snapshots in which two processes held one CPU."""
    bad = []
    for t, reg in snaps:
        held = [c for c in reg.values() if c >= 0]
        if len(held) != len(set(held)):
            bad.append((t, reg))
    return bad


def held_by(snaps, pid):
    return sorted({reg[pid] for _, reg in snaps if reg.get(pid, -1) >= 0})


def of(recs, event):
    return [r for r in recs if r.get("event") == event]


def reasons(recs):
    return [r["pin_reason"] for r in of(recs, "decision") if r.get("pin_reason")]


def busy_only(recs):
    rs = reasons(recs)
    return rs and any(r.startswith(BUSY) for r in rs)


class TestShare(ShimTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            raise unittest.SkipTest("this process may use fewer than two CPUs: nothing to share")
        cls.two = allowed[:2]

    def setUp(self):
        self.procs, self.dirs = [], []
        self.fresh()

    def fresh(self):
        """A directory (logs) and a registry of their own for the next processes."""
        self.dir = tempfile.mkdtemp(prefix="betapool-share-")
        self.dirs.append(self.dir)
        self.reg = os.path.join(self.dir, "cpus")

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def start(self, py, args, name, cpus=None, extra=None):
        env = shim_env(dict({"BETAPOOL_REGISTRY": self.reg,
                             "BETAPOOL_LOG": os.path.join(self.dir, name + ".jsonl")}, **(extra or {})))
        pre = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        p = subprocess.Popen([py, os.path.join(WORKLOADS, "share_cpus.py")] + [str(a) for a in args],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=pre)
        p.name = name
        self.procs.append(p)
        return p

    def finish(self, p, timeout=60):
        out, err = p.communicate(timeout=timeout)
        lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
        return p.returncode, lines, err

    def log(self, name):
        path = os.path.join(self.dir, name + ".jsonl")
        return read_log(path) if os.path.exists(path) else []

    def complete(self, recs, what):
        self.assertTrue(recs, f"{what}: no log")
        self.assertEqual(recs[0]["event"], "start", what)
        self.assertEqual(recs[-1]["event"], "exit", f"{what}: the log ends with {recs[-1]}")

    def test_two_processes_hold_distinct_cpus(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                self.fresh()
                w = Watch(self.reg)
                w.start()
                ps = [self.start(py, [8, 3, "exit"], f"p{i}", cpus=self.two) for i in range(2)]
                res = [self.finish(p) for p in ps]
                snaps = w.stop()
                for p, (rc, lines, err) in zip(ps, res):
                    self.assertEqual(rc, 0, err[-2000:])
                logs = [self.log(p.name) for p in ps]
                for p, recs in zip(ps, logs):
                    self.complete(recs, p.name)
                pids = [lines[0]["pid"] for _, lines, _ in res]
                why = " | ".join(f"pid {pid}: {sorted(set(reasons(r)))[:6]}" for pid, r in zip(pids, logs))
                self.assertEqual(doubles(snaps), [], f"{label}: two processes held one cpu. {why}")
                both = [reg for _, reg in snaps if all(reg.get(pid, -1) >= 0 for pid in pids)]
                if not both:
                    if any(busy_only(r) for r in logs):
                        self.skipTest(f"{label}: the machine was busy, so they did not both pin: {why}")
                    self.fail(f"{label}: the two never held a cpu each at once. {why}")
                cpus = sorted(both[0][pid] for pid in pids)
                self.assertEqual(len(set(cpus)), 2, why)
                for pid, recs in zip(pids, logs):
                    pins = [r for r in of(recs, "decision") if r["pin"] == "pin"]
                    self.assertTrue(pins and pins[0]["pin_reason"].startswith("claimed cpu"), why)
                note(f"share {label}: pids {pids} held cpus {cpus} at once")

    def test_a_third_process_on_two_cpus_does_not_double_up(self):
        label, py = next(self.each_python())
        w = Watch(self.reg)
        w.start()
        ps = [self.start(py, [8, 4, "exit"], f"p{i}", cpus=self.two) for i in range(3)]
        res = [self.finish(p) for p in ps]
        snaps = w.stop()
        logs = [self.log(p.name) for p in ps]
        pids = [lines[0]["pid"] for _, lines, _ in res]
        why = " | ".join(f"pid {pid}: {sorted(set(reasons(r)))[:6]}" for pid, r in zip(pids, logs))
        for p, (rc, _, err), recs in zip(ps, res, logs):
            self.assertEqual(rc, 0, err[-2000:])
            self.complete(recs, p.name)
        self.assertEqual(doubles(snaps), [], f"two processes held one cpu. {why}")
        # While two held both CPUs, the third (alive, registered) held none,
        # and its log says why: every usable cpu is held.
        full = [reg for _, reg in snaps if len(reg) == 3 and sum(c >= 0 for c in reg.values()) == 2]
        if not full:
            if any(busy_only(r) for r in logs):
                self.skipTest(f"the machine was busy, so two never held both cpus: {why}")
            self.fail(f"two processes never held both cpus. {why}")
        third = next(pid for pid, c in full[0].items() if c < 0)
        recs = logs[pids.index(third)]
        self.assertTrue(any(r.startswith("every usable cpu is held") for r in reasons(recs)),
                        f"pid {third} held no cpu and did not say why. {why}")

    def test_a_killed_process_claim_is_reclaimed(self):
        label, py = next(self.each_python())
        # A claim planted for a process that is gone.
        sleeper = subprocess.Popen(["sleep", "60"])
        dead_start = start_time(sleeper.pid)
        plant(self.reg, [(sleeper.pid, self.two[0], dead_start)])
        sleeper.kill()
        sleeper.wait()
        self.assertEqual(read_registry(self.reg), {sleeper.pid: self.two[0]})
        w = Watch(self.reg)
        w.start()
        b = self.start(py, [4, 1.5, "exit"], "b", cpus=self.two)
        rc, lines, err = self.finish(b)
        snaps = w.stop()
        self.assertEqual(rc, 0, err[-2000:])
        recs = self.log("b")
        self.complete(recs, "b")
        seen_b = [reg for _, reg in snaps if lines[0]["pid"] in reg]
        self.assertTrue(seen_b, "b never registered")
        self.assertFalse([reg for reg in seen_b if sleeper.pid in reg],
                         "the dead pid's claim was still there beside b's entry")
        self.assertFalse([r for r in reasons(recs) if f"pid {sleeper.pid}" in r], reasons(recs))

        # A real pinned process, killed with SIGKILL.
        a = self.start(py, [8, 30, "exit"], "a", cpus=self.two)
        a_pid = json.loads(a.stdout.readline())["pid"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and read_registry(self.reg).get(a_pid, -1) < 0:
            time.sleep(0.02)
        cpu = read_registry(self.reg).get(a_pid, -1)
        a.kill()
        a.wait()
        if cpu < 0:
            self.skipTest(f"the process never held a cpu (the machine was busy?): "
                          f"{sorted(set(reasons(self.log('a'))))[:6]}")
        self.assertEqual(read_registry(self.reg).get(a_pid), cpu, "nothing reclaimed before anyone read")
        w = Watch(self.reg)
        w.start()
        c = self.start(py, [8, 1.5, "exit"], "c", cpus=self.two)
        rc, lines, err = self.finish(c)
        snaps = w.stop()
        self.assertEqual(rc, 0, err[-2000:])
        seen_c = [reg for _, reg in snaps if lines[0]["pid"] in reg]
        self.assertTrue(seen_c, "c never registered")
        self.assertFalse([reg for reg in seen_c if a_pid in reg],
                         f"the killed pid {a_pid}'s claim of cpu {cpu} outlived c's first read")

    def test_a_fork_child_starts_unclaimed_and_leaves_the_parents_entry(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                self.fresh()
                w = Watch(self.reg)
                w.start()
                p = self.start(py, [8, 4, "fork", 1.5], "p%p", cpus=self.two)
                rc, lines, err = self.finish(p)
                snaps = w.stop()
                self.assertEqual(rc, 0, err[-2000:])
                parent, child = lines[0]["pid"], lines[1]["child"]
                self.assertEqual(lines[1]["child_exitcode"], 0)
                precs, crecs = self.log(f"p{parent}"), self.log(f"p{child}")
                self.complete(precs, "the parent")
                self.complete(crecs, "the child, ended by multiprocessing's os._exit")
                self.assertEqual(doubles(snaps), [], f"{label}: parent and child held one cpu")
                first = of(crecs, "process")
                self.assertTrue(first, "the child's log has no process record")
                self.assertEqual(first[0]["cpu"], -1, f"{label}: the child started holding a cpu")
                # The child's entry went with it; the parent's stayed.
                with_child = [i for i, (_, reg) in enumerate(snaps) if child in reg]
                self.assertTrue(with_child, "the child never registered")
                after = [reg for _, reg in snaps[with_child[-1] + 1:] if reg]
                self.assertTrue(after, "no snapshot after the child's end")
                self.assertIn(parent, after[0], f"{label}: the child's end took the parent's entry")

    def test_os_exit_writes_the_exit_record_and_gives_the_cpu_back(self):
        for label, py in self.each_python():
            with self.subTest(python=label):
                self.fresh()
                p = self.start(py, [8, 2, "os_exit"], "p")
                rc, lines, err = self.finish(p)
                self.assertEqual(rc, 7, f"{label}: os._exit's status. {err[-2000:]}")
                recs = self.log("p")
                self.complete(recs, f"{label} after os._exit")
                self.assertGreaterEqual(recs[-1]["threads_started"], 8)
                self.assertEqual(read_registry(self.reg), {}, f"{label}: the entry outlived os._exit")

    def _until_registered(self, p):
        pid = json.loads(p.stdout.readline())["pid"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pid not in read_registry(self.reg):
            time.sleep(0.02)
        self.assertIn(pid, read_registry(self.reg), "never registered")
        return pid

    def test_sigterm_ends_as_the_program_says(self):
        label, py = next(self.each_python())
        # A Python handler that calls os._exit(0), as gunicorn's workers end.
        p = self.start(py, [4, 0, "sigterm"], "h")
        self._until_registered(p)
        p.send_signal(signal.SIGTERM)
        rc, _, err = self.finish(p)
        self.assertEqual(rc, 0, err[-2000:])
        self.complete(self.log("h"), "a SIGTERM handled in Python")
        self.assertEqual(read_registry(self.reg), {})
        # No handler: the kernel ends it, by the signal, as without betapool.
        p = self.start(py, [4, 0, "sigterm_default"], "d")
        pid = self._until_registered(p)
        p.send_signal(signal.SIGTERM)
        rc, _, err = self.finish(p)
        self.assertEqual(rc, -signal.SIGTERM, err[-2000:])
        self.assertIn(pid, read_registry(self.reg), "left for the others to reclaim")

    def test_a_corrupt_or_foreign_registry_means_no_coordination(self):
        label, py = next(self.each_python())
        garbage = os.urandom(4096)
        target = os.path.join(self.dir, "target")
        with open(target, "wb") as f:
            f.write(b"not yours")
        for what, make, says in (
                ("corrupt", lambda: plant_bytes(self.reg, garbage), "corrupt"),
                ("symlink", lambda: os.symlink(target, self.reg), "a symlink"),
                ("others may write it", lambda: plant_mode(self.reg, 0o666), "lets others")):
            with self.subTest(registry=what):
                if os.path.lexists(self.reg):
                    os.unlink(self.reg)
                make()
                before = open(self.reg, "rb").read()
                p = self.start(py, [8, 1.5, "exit"], "c")
                rc, _, err = self.finish(p)
                self.assertEqual(rc, 0, err[-2000:])
                recs = self.log("c")
                self.complete(recs, what)
                notes = [r["message"] for r in of(recs, "note") if "cpu registry" in r["message"]]
                self.assertEqual(len(notes), 1, f"{what}: one note, not {notes}")
                self.assertIn(says, notes[0])
                self.assertEqual(open(self.reg, "rb").read(), before, f"{what}: the file was changed")
                self.assertEqual(open(target, "rb").read(), b"not yours")

    def test_a_process_on_one_cpu_stays_out(self):
        label, py = next(self.each_python())
        p = self.start(py, [8, 2, "exit"], "one", cpus=self.two[:1])
        rc, lines, err = self.finish(p)
        self.assertEqual(rc, 0, err[-2000:])
        recs = self.log("one")
        self.complete(recs, "one cpu")
        self.assertEqual([r for r in of(recs, "decision") if r["pin"] == "pin"], [])
        rs = reasons(recs)
        self.assertTrue(rs and all("1 cpu only" in r for r in rs), rs[:3])
        self.assertEqual(read_registry(self.reg), {}, "a process with nothing to share registered")


if __name__ == "__main__":
    unittest.main()
