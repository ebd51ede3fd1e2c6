"""`betapool summary|decisions|plot` (scripts/betapool in the checkout) on
logs written by hand (no library needed): the summary's numbers, the
decision timeline, the SVG, schema 2's fields, damaged or foreign logs; and
the old name scripts/betapool-log."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

from common import ROOT

TOOL = os.path.join(ROOT, "scripts", "betapool")
ALIAS = os.path.join(ROOT, "scripts", "betapool-log")
SVG = "{http://www.w3.org/2000/svg}"


def thread_figures(wall, cpu, held, wait, idle, parked=0.0):
    """One thread's figures, with beta and beta_io as docs/log-format.md
    defines them, so that the log is self-consistent."""
    blocked = wall - held - wait - idle - parked
    active = wall - wait - parked - idle
    return {"wall_ms": wall, "cpu_ms": cpu, "gil_held_ms": held, "gil_wait_ms": wait,
            "idle_ms": idle, "blocked_ms": round(blocked, 3),
            "beta": round(1 - cpu / wall, 4) if wall else 0.0,
            "beta_io": round((active - held) / active, 4) if active else 0.0}


def start(pid=4242, mode="auto", schema=1, t=0.0, **options):
    opts = {"mode": mode, "log": "run.jsonl", "interval_ms": 100,
            "min_workers": 1, "max_workers": 64}
    opts.update(options)
    return {"event": "start", "t": t, "schema": schema, "version": "0.1.0", "pid": pid,
            "python": "3.11.7", "gil": "found",
            "hooks": ["pthread_create", "PyThread_start_new_thread"],
            "mode": mode, "options": opts}


def auto_run(pid=4242):
    """A realistic auto run: main thread plus two workers, one of which
    exits early; five intervals; K moves 4 -> 6 -> 4 with a veto between."""
    recs = [start(pid)]
    recs.append({"event": "thread_start", "t": 0.0, "tid": pid, "python": True, "via": "main"})
    recs.append({"event": "thread_start", "t": 0.01, "tid": pid + 1, "python": True,
                 "via": "PyThread_start_joinable_thread"})
    recs.append({"event": "thread_start", "t": 0.01, "tid": pid + 2, "python": True,
                 "via": "PyThread_start_joinable_thread"})
    ks = [4, 6, 6, 5, 4]
    parked = [2, 0, 1, 0, 0]
    waiting = [3, 5, 1, 0, 0]
    bio = [0.1, 0.45, 0.2, 0.05, 0.5]
    for i in range(5):
        t = round(0.1 * (i + 1), 6)
        recs.append(dict({"event": "sample", "t": t, "tid": pid + 1},
                         **thread_figures(100.0, 40.0, 40.0, 30.0, 10.0)))
        recs.append({"event": "process", "t": t, "threads": 3, "beta": 0.6,
                     "beta_io": bio[i], "gil_wait_share": 0.25 + 0.05 * i,
                     "gil_waiting": waiting[i], "k": ks[i], "parked": parked[i],
                     "park_overruns": 0})
        if i == 1:
            recs.append({"event": "decision", "t": t, "action": "scale_up", "k_before": 4,
                         "k_after": 6, "beta_io": 0.45, "demand": 5,
                         "reason": "demand 5 and beta_io 0.45 above the danger zone 0.3"})
        if i == 2:
            recs.append({"event": "decision", "t": t, "action": "veto", "k_before": 6,
                         "k_after": 6, "beta_io": 0.2, "demand": 2,
                         "reason": "demand 2 but beta_io 0.2 is below the danger zone 0.3"})
        if i >= 3:
            recs.append({"event": "decision", "t": t, "action": "scale_down",
                         "k_before": ks[i - 1], "k_after": ks[i], "beta_io": bio[i],
                         "demand": 0, "reason": "no demand"})
        if i == 2:
            recs.append(dict({"event": "thread_exit", "t": t, "tid": pid + 2, "python": True,
                              "via": "PyThread_start_joinable_thread"},
                             **thread_figures(280.0, 100.0, 100.0, 150.0, 20.0)))
    recs.append({"event": "note", "t": 0.5, "level": "info", "message": "GIL found at offset 8"})
    main_t = thread_figures(510.0, 60.0, 60.0, 10.0, 400.0)
    w1 = thread_figures(490.0, 200.0, 200.0, 150.0, 50.0)
    # the three threads' figures summed: (510 + 490 + 280) ms of wall, and so on
    totals = dict(thread_figures(1280.0, 360.0, 360.0, 310.0, 470.0),
                  gil_wait_share=round(310.0 / 1280.0, 4))
    recs.append({"event": "exit", "t": 0.52, "threads_started": 3, "threads_exited": 1,
                 "python_threads": 3, "totals": totals,
                 "decisions": {"scale_up": 1, "scale_down": 2, "veto": 1, "hold": 0},
                 "threads": [dict({"tid": pid, "python": True, "via": "main"}, **main_t),
                             dict({"tid": pid + 1, "python": True,
                                   "via": "PyThread_start_joinable_thread"}, **w1)]})
    return recs


def observe_run(pid=5151):
    """An observe run: no k, parked or decisions."""
    recs = [start(pid, mode="observe")]
    recs.append({"event": "thread_start", "t": 0.0, "tid": pid, "python": True, "via": "main"})
    for i in range(3):
        t = round(0.1 * (i + 1), 6)
        recs.append({"event": "process", "t": t, "threads": 1, "beta": 0.2,
                     "beta_io": 0.1, "gil_wait_share": 0.0, "gil_waiting": 0})
    recs.append({"event": "exit", "t": 0.31, "threads_started": 1, "threads_exited": 0,
                 "python_threads": 1,
                 "totals": dict(thread_figures(300.0, 240.0, 240.0, 0.0, 0.0),
                                gil_wait_share=0.0),
                 "threads": [dict({"tid": pid, "python": True, "via": "main"},
                                  **thread_figures(300.0, 240.0, 240.0, 0.0, 0.0))]})
    return recs


def lines(recs):
    return "".join(json.dumps(r) + "\n" for r in recs)


class LogToolTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="betapool-logtool-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def tool(self, *args):
        env = dict(os.environ, PYTHONIOENCODING="utf-8")
        return subprocess.run([sys.executable, TOOL] + list(args), capture_output=True,
                              encoding="utf-8", env=env, timeout=60)

    def ok(self, *args):
        cp = self.tool(*args)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp

    def svg(self, log, name="run.svg", *extra):
        out = os.path.join(self.dir, name)
        cp = self.ok("plot", log, "-o", out, *extra)
        return cp, ET.parse(out).getroot()

    @staticmethod
    def series(root):
        return {el.get("id")[len("series-"):] for el in root.iter()
                if el.tag in (SVG + "path", SVG + "polyline")
                and (el.get("id") or "").startswith("series-")}

    # -- summary -----------------------------------------------------------

    def test_executable(self):
        self.assertTrue(os.access(TOOL, os.X_OK))

    def test_summary_table(self):
        log = self.write("run.jsonl", lines(auto_run()))
        cp = self.ok("summary", log)
        self.assertEqual(cp.stderr, "")
        out = cp.stdout
        self.assertIn("pid 4242, python 3.11.7", out)
        self.assertIn("mode auto", out)
        rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.strip()}
        # thread_exit of the early worker, then the two alive at exit
        self.assertEqual(rows["4244"][1:], ["start_joinable_thread", "280.0", "100.0",
                                            "150.0", "20.0", "10.0", "0.6429", "0.0909"])
        self.assertEqual(rows["4242"][1:4], ["main", "510.0", "60.0"])
        self.assertEqual(rows["4243"][-2:], ["0.5918", "0.3103"])
        self.assertEqual(rows["total"][1:], ["1280.0", "360.0", "310.0", "470.0", "140.0",
                                             "0.7188", "0.2800"])
        self.assertIn("GIL wait share over the run: 0.2422", out)
        # process over time: min / median / max
        self.assertEqual(rows["k"][1:], ["4", "5", "6"])
        self.assertEqual(rows["parked"][1:], ["0", "0", "2"])
        self.assertEqual(rows["beta_io"][1:], ["0.0500", "0.2000", "0.5000"])
        self.assertIn("gil_waiting (demand)", out)
        # decisions by action
        self.assertIn("decisions (4)", out)
        self.assertEqual(rows["scale_up"][1:], ["1"])
        self.assertEqual(rows["scale_down"][1:], ["2"])
        self.assertEqual(rows["veto"][1:], ["1"])
        self.assertIn("GIL found at offset 8", out)

    def test_summary_json(self):
        log = self.write("run.jsonl", lines(auto_run()))
        data = json.loads(self.ok("summary", log, "--json").stdout)
        self.assertEqual(list(data)[0], "format")
        (run,) = data["runs"]
        self.assertTrue(run["complete"])
        self.assertEqual([t["tid"] for t in run["threads"]], [4244, 4242, 4243])
        self.assertEqual(run["total"]["wall_ms"], 1280.0)
        self.assertEqual(run["process"]["intervals"], 5)
        self.assertEqual(run["process"]["k"], {"min": 4, "median": 5, "max": 6, "n": 5})
        self.assertEqual(run["process"]["gil_waiting"]["max"], 5)
        self.assertEqual(run["decisions"], {"scale_up": 1, "scale_down": 2, "veto": 1})

    def test_observe_run_shows_missing_keys(self):
        log = self.write("run.jsonl", lines(observe_run()))
        out = self.ok("summary", log).stdout
        rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.strip()}
        self.assertEqual(rows["k"][1:], ["-", "-", "-"])
        self.assertEqual(rows["parked"][1:], ["-", "-", "-"])
        self.assertEqual(rows["threads"][1:], ["1", "1", "1"])
        self.assertIn("decisions (0)", out)
        data = json.loads(self.ok("summary", log, "--json").stdout)
        self.assertIsNone(data["runs"][0]["process"]["k"])

    def test_appended_runs(self):
        log = self.write("run.jsonl", lines(auto_run(100)) + lines(observe_run(200)))
        out = self.ok("summary", log).stdout
        self.assertIn("run 1 of 2: pid 100", out)
        self.assertIn("run 2 of 2: pid 200", out)
        data = json.loads(self.ok("summary", log, "--json", "--run", "2").stdout)
        self.assertEqual([r["pid"] for r in data["runs"]], [200])
        cp = self.tool("summary", log, "--run", "3")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("no run 3", cp.stderr)

    def test_old_name_is_an_alias(self):
        log = self.write("run.jsonl", lines(auto_run()))
        env = dict(os.environ, PYTHONIOENCODING="utf-8")
        for args in (["summary", log], ["decisions", log], ["summary", log, "--json"]):
            old = subprocess.run([sys.executable, ALIAS] + args, capture_output=True,
                                 encoding="utf-8", env=env, timeout=60)
            self.assertEqual(old.returncode, 0, old.stderr)
            self.assertEqual(old.stdout, self.ok(*args).stdout)
        old = subprocess.run([sys.executable, ALIAS, "summary", log + ".missing"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(old.returncode, 2)
        self.assertTrue(old.stderr.startswith("betapool-log: error: cannot read"), old.stderr)

    def test_schema_2_fields_shown(self):
        """Schema 2 adds gate, forced and favoured to process records and the
        gate and pin with their reasons to decisions: shown when present."""
        recs = auto_run()
        recs[0]["schema"] = 2
        recs[0]["clock"] = "monotonic"
        procs = [r for r in recs if r["event"] == "process"]
        for i, r in enumerate(procs):
            r.update(gate="shut" if i in (1, 2, 3) else "open", forced=i, favoured=2 * i)
        decisions = [r for r in recs if r["event"] == "decision"]
        for r in recs:
            if r["event"] == "sample":
                r.update(forced=1, favoured=0)
        for i, r in enumerate(decisions):   # scale_up, veto, scale_down, scale_down
            r.update(gate="shut" if i < 3 else "open", gate_was="open" if i == 0 else "shut",
                     gate_reason="forced switches" if i == 0 else "calm", signal="none",
                     pin="pin" if i == 1 else ("unpin" if i == 3 else "stay"),
                     cpu=1 if i in (1, 2) else -1, native_share=0.1, waiting=2.0,
                     pin_reason="GIL-bound" if i == 1 else "native code")
        log = self.write("run.jsonl", lines(recs))
        cp = self.ok("summary", log)
        self.assertEqual(cp.stderr, "")
        self.assertIn("gate shut in 3 of 5 intervals (0.3 s)", cp.stdout)
        self.assertIn("forced GIL switches over the run: 10", cp.stdout)
        self.assertIn("GIL waits shortened over the run: 20", cp.stdout)
        (run,) = json.loads(self.ok("summary", log, "--json").stdout)["runs"]
        self.assertEqual(run["schema"], 2)
        self.assertEqual(run["gate"], {"open": 2, "shut": 3, "shut_s": 0.3})
        self.assertEqual(run["counts"], {"forced": 10, "favoured": 20})
        self.assertEqual(run["decisions"], {"scale_up": 1, "scale_down": 2, "veto": 1, "pin": 1,
                                            "unpin": 1, "gate_shut": 1, "gate_open": 1})
        self.assertEqual(run["decision_records"], 4)
        self.assertIn("decisions (4)", cp.stdout)
        out = self.ok("decisions", log).stdout.splitlines()
        self.assertEqual(len(out), 5)
        self.assertTrue(out[1].endswith("above the danger zone 0.3; gate open\u2192shut: forced "
                                        "switches"), out[1])
        self.assertTrue(out[2].endswith("; gate shut; pin cpu 1: GIL-bound"), out[2])
        self.assertTrue(out[3].endswith("no demand; gate shut"), out[3])
        self.assertTrue(out[4].endswith("; gate shut\u2192open: calm; unpin: native code"), out[4])
        # a schema 1 log has none of it
        plain = self.write("plain.jsonl", lines(auto_run()))
        self.assertNotIn("gate", self.ok("summary", plain).stdout)
        self.assertNotIn("gate", self.ok("decisions", plain).stdout)

    def test_handoff_counts_shown(self):
        """The exit record's hand-off counts: a line each in the summary,
        the object as it is in --json; a log without them shows neither."""
        recs = auto_run()
        recs[0]["schema"] = 2
        recs[-1]["handoff"] = {"served": {"computing": 12, "interactive": 340, "due": 2},
                               "interactive_wait_p50_us": 114, "interactive_wait_p99_us": 1835,
                               "computing_wait_max_us": 51200, "held_back": 25, "passed_over": 1}
        log = self.write("run.jsonl", lines(recs))
        out = self.ok("summary", log).stdout
        self.assertIn("GIL hand-overs to waiters: computing 12, interactive 340, due 2", out)
        self.assertIn("interactive waits p50 114 us, p99 1835 us; longest computing wait 51200 us; "
                      "held back 25, taken past a higher class 1", out)
        (run,) = json.loads(self.ok("summary", log, "--json").stdout)["runs"]
        self.assertEqual(run["handoff"], recs[-1]["handoff"])
        plain = self.write("plain.jsonl", lines(auto_run()))
        self.assertNotIn("hand-overs", self.ok("summary", plain).stdout)
        self.assertIsNone(json.loads(self.ok("summary", plain, "--json").stdout)["runs"][0]["handoff"])

    def test_unknown_keys_and_events_ignored(self):
        recs = auto_run()
        recs[1]["later_key"] = {"x": 1}
        recs.insert(3, {"event": "from_the_future", "t": 0.02, "what": 1})
        log = self.write("run.jsonl", lines(recs))
        cp = self.ok("summary", log)
        self.assertEqual(cp.stderr, "")
        self.assertIn("decisions (4)", cp.stdout)

    # -- damaged logs ------------------------------------------------------

    def test_truncated_log(self):
        recs = auto_run()
        cut = next(i for i, r in enumerate(recs) if r["event"] == "thread_exit")
        text = lines(recs[:cut]) + json.dumps(recs[cut])[:25]    # killed mid-write
        log = self.write("run.jsonl", text)
        cp = self.ok("summary", log)
        self.assertEqual(len(cp.stderr.strip().splitlines()), 1, cp.stderr)
        self.assertIn("warning", cp.stderr)
        self.assertIn(f"line {cut + 1} ", cp.stderr)
        self.assertIn("cut short", cp.stderr)
        self.assertIn("incomplete", cp.stdout)
        rows = {ln.split()[0]: ln.split() for ln in cp.stdout.splitlines() if ln.strip()}
        # worker 1's three samples summed, marked as such
        self.assertEqual(rows["4243*"][2:4], ["300.0", "120.0"])
        self.assertEqual(rows["total"][1], "300.0")
        self.assertEqual(rows["k"][1:], ["4", "6", "6"])
        self.assertIn("decisions (2)", cp.stdout)
        data = json.loads(self.ok("summary", log, "--json").stdout)
        self.assertFalse(data["runs"][0]["complete"])
        # the other commands read it too
        self.assertEqual(self.ok("decisions", log).stdout.count("\n"), 3)
        _, root = self.svg(log)
        self.assertIn("k", self.series(root))

    def test_corrupt_middle_line(self):
        recs = auto_run()
        text = lines(recs).splitlines(keepends=True)
        text[6] = "\x00garbage{not json\n"
        log = self.write("run.jsonl", "".join(text))
        cp = self.ok("summary", log)
        self.assertEqual(len(cp.stderr.strip().splitlines()), 1, cp.stderr)
        self.assertIn("line 7 ", cp.stderr)
        self.assertNotIn("incomplete", cp.stdout)
        # records after the damage still read: the exit record's total
        self.assertIn("1280.0", cp.stdout)
        self.assertIn("decisions (4)", cp.stdout)

    def test_several_damaged_lines_one_warning(self):
        text = lines(auto_run()).splitlines(keepends=True)
        text[4] = "[1, 2]\n"
        text[9] = "{\"t\": 1}\n"
        log = self.write("run.jsonl", "".join(text) + "{\"event\": \"sam")
        cp = self.ok("summary", log)
        self.assertEqual(len(cp.stderr.strip().splitlines()), 1, cp.stderr)
        self.assertIn("lines 5, 10, " + str(len(text) + 1), cp.stderr)

    def test_newer_schema_refused(self):
        log = self.write("run.jsonl", lines([start(schema=3)] + auto_run()[1:]))
        for cmd in (["summary", log], ["decisions", log],
                    ["plot", log, "-o", os.path.join(self.dir, "x.svg")]):
            cp = self.tool(*cmd)
            self.assertEqual(cp.returncode, 2, cmd)
            self.assertIn("schema 3", cp.stderr)
            self.assertIn("(1, 2)", cp.stderr)
            self.assertIn("newer", cp.stderr)
            self.assertEqual(cp.stdout, "")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.svg")))

    def test_no_start_record(self):
        log = self.write("run.jsonl", lines(auto_run()[1:]))
        cp = self.tool("summary", log)
        self.assertEqual(cp.returncode, 2)
        self.assertIn("no start record", cp.stderr)
        cp = self.tool("summary", self.write("empty.jsonl", ""))
        self.assertEqual(cp.returncode, 2)
        self.assertIn("empty", cp.stderr)

    def test_missing_file(self):
        cp = self.tool("summary", os.path.join(self.dir, "nope.jsonl"))
        self.assertEqual(cp.returncode, 2)
        self.assertIn("betapool: error: cannot read", cp.stderr)
        self.assertIn("No such file", cp.stderr)
        self.assertEqual(self.tool("summary").returncode, 2)
        # scripts/betapool runs a word that is not a command, as it always did
        cp = self.tool("frobnicate", "x")
        self.assertEqual(cp.returncode, 127)
        self.assertIn("'frobnicate' is neither a command (run, summary", cp.stderr)
        # the installed command has no such form
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        cp = subprocess.run([sys.executable, "-c", "import sys; from betapool.cli import main; "
                             "sys.exit(main(['frobnicate', 'x']))"], capture_output=True,
                            text=True, env=env, timeout=60)
        self.assertEqual(cp.returncode, 2)
        self.assertIn("invalid choice: 'frobnicate'", cp.stderr)

    def test_records_before_start_ignored(self):
        log = self.write("run.jsonl", lines(auto_run()[2:4] + auto_run()))
        cp = self.ok("summary", log)
        self.assertIn("lines 1, 2", cp.stderr)
        self.assertIn("decisions (4)", cp.stdout)

    # -- decisions ---------------------------------------------------------

    def test_decisions_timeline(self):
        log = self.write("run.jsonl", lines(auto_run()))
        out = self.ok("decisions", log).stdout.splitlines()
        self.assertEqual(len(out), 5)
        self.assertIn("4 decisions", out[0])
        first = out[1].split()
        self.assertEqual(first[:3], ["0.200", "scale_up", "4\u21926"])
        self.assertIn("beta_io 0.4500", out[1])
        self.assertIn("demand 5", out[1])
        self.assertTrue(out[1].endswith("above the danger zone 0.3"))
        self.assertEqual([ln.split()[1] for ln in out[1:]],
                         ["scale_up", "veto", "scale_down", "scale_down"])
        self.assertIn("5\u21924", out[4])

    def test_decisions_json(self):
        """decisions --json: every decision record as logged, per run, the
        same ones the text lists; --run picks one; NaN in a damaged log
        becomes null so that the output stays JSON."""
        recs = auto_run() + auto_run(pid=7000)
        recs[-3]["reason"] = "from the second run"
        log = self.write("run.jsonl", lines(recs).replace('"demand": 5', '"demand": NaN', 1))
        cp = self.ok("decisions", log, "--json")
        self.assertEqual(cp.stderr, "")
        data = json.loads(cp.stdout)
        self.assertEqual(data["format"], 2)
        self.assertEqual([(r["run"], r["of"], r["pid"]) for r in data["runs"]],
                         [(1, 2, 4242), (2, 2, 7000)])
        first = data["runs"][0]["decisions"]
        self.assertEqual([d["action"] for d in first],
                         ["scale_up", "veto", "scale_down", "scale_down"])
        self.assertEqual(first[0], {"t": 0.2, "action": "scale_up", "k_before": 4,
                                    "k_after": 6, "beta_io": 0.45, "demand": None,
                                    "reason": "demand 5 and beta_io 0.45 above the danger "
                                              "zone 0.3"})
        text = self.ok("decisions", log).stdout
        for run in data["runs"]:
            for d in run["decisions"]:
                self.assertIn(d["reason"], text)
        (only,) = json.loads(self.ok("decisions", log, "--json", "--run", "2").stdout)["runs"]
        self.assertEqual(only["pid"], 7000)
        self.assertIn("from the second run", [d["reason"] for d in only["decisions"]])
        none = self.write("observe.jsonl", lines(observe_run()))
        (run,) = json.loads(self.ok("decisions", none, "--json").stdout)["runs"]
        self.assertEqual(run["decisions"], [])

    def test_decisions_none(self):
        log = self.write("run.jsonl", lines(observe_run()))
        out = self.ok("decisions", log).stdout.splitlines()
        self.assertEqual(len(out), 1)
        self.assertIn("0 decisions", out[0])

    # -- plot --------------------------------------------------------------

    def test_plot_svg(self):
        log = self.write("run.jsonl", lines(auto_run()))
        _, root = self.svg(log)
        self.assertEqual(root.tag, SVG + "svg")
        self.assertEqual(self.series(root), {"threads", "k", "parked", "demand",
                                             "gil_wait_share", "beta_io", "beta"})
        k = next(el for el in root.iter(SVG + "path") if el.get("id") == "series-k")
        self.assertIn("H", k.get("d"))          # a step line
        text = " ".join("".join(el.itertext()) for el in root.iter(SVG + "text"))
        self.assertIn("python 3.11.7", text)
        self.assertIn("pid 4242", text)
        self.assertIn("mode auto", text)
        self.assertIn("time since start (s)", text)
        self.assertIn("danger zone 0.3", text)
        self.assertNotIn("no data", text)
        vetoes = [el for el in root.iter(SVG + "line") if el.get("class") == "veto"]
        self.assertEqual(len(vetoes), 1)
        danger = next(el for el in root.iter(SVG + "line") if el.get("id") == "danger")
        self.assertTrue(danger.get("stroke-dasharray"))

    def test_pinned_spans_in_summary_and_plot(self):
        recs = auto_run()
        procs = [r for r in recs if r["event"] == "process"]
        for i, r in enumerate(procs):  # on cpu 1 from the second record to the fourth
            r["cpu"] = 1 if i in (1, 2) else -1
        at = recs.index(procs[1]) + 1
        recs.insert(at, {"event": "decision", "t": procs[1]["t"], "action": "pin", "k_before": 4,
                         "k_after": 4, "beta_io": 0.2, "demand": 5, "cpu": 1, "native_share": 0.1,
                         "reason": "threads wait for the GIL"})
        log = self.write("run.jsonl", lines(recs))
        (run,) = json.loads(self.ok("summary", log, "--json").stdout)["runs"]
        self.assertEqual(run["pinned"], [{"from_s": procs[1]["t"], "to_s": procs[3]["t"], "cpu": 1}])
        self.assertEqual(run["decisions"]["pin"], 1)
        self.assertIn("Python threads on one CPU for 0.2 s", self.ok("summary", log).stdout)
        self.assertIn("pin", self.ok("decisions", log).stdout)
        _, root = self.svg(log)
        rects = [el for el in root.iter(SVG + "rect") if el.get("class") == "pinned"]
        self.assertEqual(len(rects), 1)
        text = " ".join("".join(el.itertext()) for el in root.iter(SVG + "text"))
        self.assertIn("on one CPU (1)", text)
        # A run that never pinned draws no span.
        _, root = self.svg(self.write("plain.jsonl", lines(auto_run())))
        self.assertEqual([el for el in root.iter(SVG + "rect") if el.get("class") == "pinned"], [])

    def test_plot_observe_says_no_data(self):
        log = self.write("run.jsonl", lines(observe_run()))
        _, root = self.svg(log)
        self.assertEqual(self.series(root), {"threads", "demand", "gil_wait_share",
                                             "beta_io", "beta"})
        text = " ".join("".join(el.itertext()) for el in root.iter(SVG + "text"))
        self.assertIn("K (admitted): no data", text)
        self.assertIn("threads parked: no data", text)
        self.assertIn("mode observe", text)

    def test_plot_danger_from_options(self):
        recs = auto_run()
        recs[0]["options"]["gil_danger"] = 0.5
        log = self.write("run.jsonl", lines(recs))
        _, root = self.svg(log)
        text = " ".join("".join(el.itertext()) for el in root.iter(SVG + "text"))
        self.assertIn("danger zone 0.5", text)

    def test_plot_html_and_strange_text(self):
        recs = auto_run()
        recs[0]["python"] = "3.11.7 <&> \"x\" \u0001"
        log = self.write("run.jsonl", lines(recs))
        out = os.path.join(self.dir, "run.html")
        self.ok("plot", log, "-o", out)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        svg = page[page.index("<svg"):page.index("</svg>") + len("</svg>")]
        root = ET.fromstring(svg)
        self.assertIn("k", self.series(root))
        self.assertIn("<&>", root.find(SVG + "title").text)

    def test_plot_second_run_and_bad_output(self):
        log = self.write("run.jsonl", lines(observe_run(1)) + lines(auto_run(2)))
        cp, root = self.svg(log, "two.svg", "--run", "2")
        self.assertIn("k", self.series(root))
        cp = self.tool("plot", log, "-o", os.path.join(self.dir, "x.png"))
        self.assertEqual(cp.returncode, 2)
        self.assertIn(".svg or .html", cp.stderr)

    def test_plot_no_process_records(self):
        log = self.write("run.jsonl", lines([start()]))
        _, root = self.svg(log)
        self.assertEqual(self.series(root), set())
        text = " ".join("".join(el.itertext()) for el in root.iter(SVG + "text"))
        self.assertIn("no data", text)
        self.assertIn("incomplete", text)


if __name__ == "__main__":
    unittest.main()
