"""`betapool trace LOG -o trace.json` on the log of a real run, held to the
trace-event format's documented fields (Chrome's Trace Event Format, as
Perfetto and chrome://tracing read it) and to the log it came from."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import common

BETAPOOL = os.path.join(common.ROOT, "scripts", "betapool")

# Eight threads that sleep for a while, then compute: waiting and blocked
# time first, then holding and waiting for the GIL; K, parking and vetoes in
# mode auto.
PHASES = """
import threading, time
def work():
    for _ in range(8):
        time.sleep(0.02)
    x = 0
    for i in range(1_500_000):
        x += i
ts = [threading.Thread(target=work) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
"""

# Chrome's reserved colour names (trace-viewer's colour scheme) that cname may use.
CNAMES = {"thread_state_uninterruptible", "thread_state_iowait", "thread_state_running",
          "thread_state_runnable", "thread_state_sleeping", "thread_state_unknown",
          "background_memory_dump", "light_memory_dump", "detailed_memory_dump",
          "vsync_highlight_color", "generic_work", "good", "bad", "terrible", "black",
          "grey", "white", "yellow", "olive", "rail_response", "rail_animation",
          "rail_idle", "rail_load", "startup", "heap_dump_stack_frame",
          "heap_dump_object_type", "heap_dump_child_node_arrow", "cq_build_running",
          "cq_build_passed", "cq_build_failed", "cq_build_abandoned",
          "cq_build_attempt_runnig", "cq_build_attempt_passed", "cq_build_attempt_failed"}
METADATA = {"process_name", "process_labels", "process_sort_index", "thread_name",
            "thread_sort_index"}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_event_fields(test, ev):
    """One event against the format's definition of its phase."""
    test.assertIsInstance(ev, dict)
    test.assertIsInstance(ev.get("name"), str, ev)
    test.assertTrue(ev["name"], ev)
    test.assertIn(ev.get("ph"), {"X", "C", "i", "M"}, ev)
    test.assertTrue(is_int(ev.get("pid")), ev)
    if "tid" in ev:
        test.assertTrue(is_int(ev["tid"]), ev)
    if "cat" in ev:
        test.assertIsInstance(ev["cat"], str, ev)
    if "args" in ev:
        test.assertIsInstance(ev["args"], dict, ev)
    if "cname" in ev:
        test.assertIn(ev["cname"], CNAMES, ev)
    ph = ev["ph"]
    if ph != "M":
        # ts: microseconds, a number
        test.assertTrue(is_num(ev.get("ts")), ev)
        test.assertGreaterEqual(ev["ts"], 0, ev)
    if ph == "X":
        test.assertTrue(is_int(ev.get("tid")), ev)
        test.assertTrue(is_num(ev.get("dur")), ev)
        test.assertGreater(ev["dur"], 0, ev)
    elif ph == "C":
        test.assertTrue(ev.get("args"), ev)
        for v in ev["args"].values():
            test.assertTrue(is_num(v), ev)
    elif ph == "i":
        test.assertIn(ev.get("s", "t"), {"g", "p", "t"}, ev)
        if ev.get("s", "t") == "t":
            test.assertIn("tid", ev)
    elif ph == "M":
        test.assertIn(ev["name"], METADATA, ev)
        if ev["name"].endswith("_name"):
            test.assertIsInstance(ev["args"].get("name"), str, ev)
        if ev["name"].endswith("_sort_index"):
            test.assertTrue(is_int(ev["args"].get("sort_index")), ev)
        if ev["name"].startswith("thread_"):
            test.assertIn("tid", ev)


def check_nesting(test, events):
    """Complete events of one thread must nest (a viewer drops or misdraws
    slices that overlap without nesting)."""
    by_thread = {}
    for ev in events:
        if ev["ph"] == "X":
            by_thread.setdefault((ev["pid"], ev["tid"]), []).append(ev)
    eps = 1e-3      # the timestamps' resolution: a nanosecond
    for key, evs in by_thread.items():
        stack = []
        for ev in sorted(evs, key=lambda e: (e["ts"], -e["dur"])):
            while stack and ev["ts"] >= stack[-1] - eps:
                stack.pop()
            end = ev["ts"] + ev["dur"]
            if stack:
                test.assertLessEqual(end, stack[-1] + eps, f"{key}: {ev} overlaps its parent")
            stack.append(end)


class TraceTest(common.ShimTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="betapool-trace-")
        cls.log = os.path.join(cls.dir, "run.jsonl")
        env = common.shim_env(preload=False)
        cp = subprocess.run([sys.executable, BETAPOOL, "run", "--mode", "auto", "--interval",
                             "50", "--lib", common.LIB, "--log", cls.log, "--", sys.executable,
                             "-c", PHASES], env=env, capture_output=True, text=True, timeout=120)
        assert cp.returncode == 0, cp.stderr
        cls.records = common.read_log(cls.log)
        cls.out = os.path.join(cls.dir, "trace.json")
        cls.cp = subprocess.run([sys.executable, BETAPOOL, "trace", cls.log, "-o", cls.out],
                                capture_output=True, text=True, timeout=60)
        with open(cls.out, encoding="utf-8") as f:
            text = f.read()
        # strict JSON: no NaN or Infinity, which JSON parsers of viewers refuse
        cls.doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def events(self, ph, name=None, cat=None):
        return [e for e in self.doc["traceEvents"] if e["ph"] == ph
                and (name is None or e["name"] == name) and (cat is None or e.get("cat") == cat)]

    def test_command_ran(self):
        self.assertEqual(self.cp.returncode, 0, self.cp.stderr)
        self.assertEqual(self.cp.stdout, "")

    def test_document_and_fields(self):
        self.assertIsInstance(self.doc, dict)
        self.assertIn(self.doc.get("displayTimeUnit"), ("ms", "ns"))
        events = self.doc["traceEvents"]
        self.assertIsInstance(events, list)
        for ev in events:
            check_event_fields(self, ev)
        check_nesting(self, events)
        end_us = max(r["t"] for r in self.records) * 1e6
        for ev in events:
            if ev["ph"] != "M":
                self.assertLessEqual(ev["ts"] + ev.get("dur", 0), end_us + 1, ev)

    def test_one_interval_slice_per_sample_with_its_split(self):
        samples = [r for r in self.records if r["event"] == "sample" and r["wall_ms"] > 0]
        intervals = self.events("X", cat="interval")
        self.assertEqual(len(intervals), len(samples))
        parts = self.events("X", cat="split")
        names = {"held": "gil_held_ms", "GIL wait": "gil_wait_ms", "idle": "idle_ms",
                 "blocked": "blocked_ms", "parked": "parked_ms"}
        for sample, iv in zip(samples, intervals):
            self.assertEqual(iv["tid"], sample["tid"])
            self.assertEqual(iv["args"]["gil_held_ms"], sample["gil_held_ms"])
            self.assertEqual(iv["ts"] + iv["dur"] <= sample["t"] * 1e6 + 1, True, (iv, sample))
            self.assertLessEqual(iv["dur"], sample["wall_ms"] * 1000 + 1)
            inside = [p for p in parts if p["tid"] == iv["tid"] and iv["ts"] - 1e-3 <= p["ts"]
                      and p["ts"] + p["dur"] <= iv["ts"] + iv["dur"] + 1e-3]
            self.assertTrue(inside, iv)
            for p in inside:
                self.assertIn(p["name"], names)
                # each part as long as the log says, but never past its interval
                self.assertLessEqual(abs(p["args"]["ms"] - sample[names[p["name"]]]), 1e-9)
                self.assertLessEqual(p["dur"], sample[names[p["name"]]] * 1000 + 1e-3)
            top = max(names, key=lambda n: sample[names[n]])
            self.assertTrue(iv["name"].startswith(top + " "), (iv["name"], sample))
        kinds = {p["name"] for p in parts}
        self.assertIn("held", kinds)
        self.assertIn("blocked", kinds)     # the sleeps

    def test_thread_names(self):
        named = {e["tid"]: e["args"]["name"] for e in self.events("M", "thread_name")}
        for ev in self.events("X"):
            self.assertIn(ev["tid"], named)
        start = self.records[0]
        self.assertEqual(named[start["pid"]], f"main thread {start['pid']}")
        self.assertEqual(len(named), sum(1 for r in self.records if r["event"] == "thread_start"
                                         and r["python"]))
        (proc,) = self.events("M", "process_name")
        self.assertIn(f"pid {start['pid']}", proc["args"]["name"])

    def test_counters_follow_process_records(self):
        procs = [r for r in self.records if r["event"] == "process"]
        self.assertEqual(self.records[0]["schema"], 2)
        for key, name, series in (("k", "K", "threads"), ("parked", "parked", "threads"),
                                  ("beta_io", "beta_io", "ratio"), ("forced", "forced", "switches"),
                                  ("favoured", "favoured", "waits")):
            with self.subTest(counter=name):
                got = [(e["ts"], e["args"][series]) for e in self.events("C", name)]
                want = [(round(p["t"] * 1e6, 3), p[key]) for p in procs if key in p]
                self.assertEqual(got, want)
                self.assertTrue(want)

    def test_decisions_are_instants_with_reasons(self):
        decisions = [r for r in self.records if r["event"] == "decision"]
        self.assertTrue(decisions, "the run made no decision")
        instants = self.events("i", cat="decision")
        self.assertEqual(len(instants), len(decisions))
        for d, ev in zip(decisions, instants):
            self.assertEqual(ev["s"], "p")
            self.assertEqual(ev["args"]["reason"], d["reason"])
            self.assertEqual(ev["args"]["action"], d["action"])
            self.assertTrue(ev["name"].startswith(d["action"]))
            self.assertEqual(ev["ts"], round(d["t"] * 1e6, 3))
            # schema 2: the gate and the pin with their reasons
            self.assertEqual(ev["args"]["gate_reason"], d["gate_reason"])
            self.assertEqual(ev["args"]["pin_reason"], d["pin_reason"])
            if d["gate"] != d["gate_was"]:
                self.assertIn(f"; gate {d['gate']}", ev["name"])

    def test_stdout_and_errors(self):
        cp = subprocess.run([sys.executable, BETAPOOL, "trace", self.log, "-o", "-", "--run", "1"],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(json.loads(cp.stdout), self.doc)
        cp = subprocess.run([sys.executable, BETAPOOL, "trace", self.log, "-o", "-", "--run", "2"],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 2)
        self.assertIn("no run 2", cp.stderr)
        newer = os.path.join(self.dir, "newer.jsonl")
        with open(newer, "w") as f:
            f.write(json.dumps(dict(self.records[0], schema=3)) + "\n")
        cp = subprocess.run([sys.executable, BETAPOOL, "trace", newer, "-o",
                             os.path.join(self.dir, "n.json")], capture_output=True, text=True,
                            timeout=60)
        self.assertEqual(cp.returncode, 2)
        self.assertIn("schema 3 is newer", cp.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "n.json")))

    def test_two_runs_two_processes(self):
        two = os.path.join(self.dir, "two.jsonl")
        with open(self.log) as f, open(two, "w") as out:
            text = f.read()
            out.write(text + text)      # the same pid twice: still two processes
        out = os.path.join(self.dir, "two.json")
        cp = subprocess.run([sys.executable, BETAPOOL, "trace", two, "-o", out],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(out) as f:
            doc = json.load(f)
        pids = {e["pid"] for e in doc["traceEvents"]}
        self.assertEqual(len(pids), 2)
        self.assertEqual(len(doc["traceEvents"]), 2 * len(self.doc["traceEvents"]))


if __name__ == "__main__":
    unittest.main()
