"""Reading a betapool log (JSON Lines, docs/log-format.md), and the reports
over it: `betapool summary`, `betapool decisions`, `betapool plot`.

usage: betapool summary LOG [--run N] [--json] [--all]
       betapool decisions LOG [--run N]
       betapool plot LOG -o FILE.svg|FILE.html [--run N]

A log may hold several runs (processes appending to one file); a `start`
record begins each. Damaged lines (a half-written last line, garbage in the
middle) are skipped with one warning that names them. Exit status: 0 done,
2 the log cannot be used (missing, no start record, newer schema) or bad usage.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
from xml.sax.saxutils import escape

try:
    from . import _schema
except ImportError as e:  # a source checkout never built
    raise ImportError("betapool/_schema.py is written by the build (meson compile -C build); "
                      "a source checkout looks for it in build/python/betapool") from e

PROG = "betapool"       # how messages start; set by the command that runs
KNOWN_SCHEMAS = (1, 2)
JSON_FORMAT = 2          # version of this tool's own `summary --json` output
DEFAULT_DANGER = 0.3     # the library's default GIL danger zone for beta_io

# Per-thread figures, as in `sample` and `thread_exit` (milliseconds).
FIGURES = _schema.FIGURE_FIELDS
# Keys of `process` records summarised over time, with their kind.
PROCESS_KEYS = (("threads", "count"), ("k", "count"), ("parked", "count"),
                ("gil_waiting", "count"), ("gil_wait_share", "ratio"),
                ("beta", "ratio"), ("beta_io", "ratio"))
# Counts per interval (schema 2) that the summary also adds up over the run.
PROCESS_COUNTS = (("forced", "forced GIL switches"), ("favoured", "GIL waits shortened"))
# The decisions a run counts, in the order shown.
ACTIONS = _schema.ACTIONS


class LogError(Exception):
    """The log cannot be used at all: reported as an error, exit status 2."""


def num(value):
    """A finite number from a record, or None (missing, wrong type, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text):
    """Text from the log made safe to print or put in XML."""
    return _BAD_XML_CHARS.sub("?", str(text))


def betas(fig):
    """beta and beta_io from summed figures, as the shim computes them."""
    if fig.get("wall_ms") is None:
        return None, None
    beta = None if fig.get("cpu_ms") is None else _schema.beta(fig)
    return beta, _schema.beta_io(fig)


class Run:
    """The records of one process, from its `start` record on."""

    def __init__(self, start, lineno):
        self.start = start
        self.first_line = lineno
        self.last_line = lineno
        self.last_t = num(start.get("t")) or 0.0
        self.via = {}           # tid -> how the thread was recognised
        self.live = {}          # tid -> figures summed from samples since it started
        self.exited = []        # thread_exit records, in order
        self.starts = []        # thread_start records, in order
        self.samples = []       # sample records, in order
        self.processes = []
        self.decisions = []
        self.notes = []
        self.exit = None

    def add(self, rec, lineno):
        self.last_line = lineno
        t = num(rec.get("t"))
        if t is not None:
            self.last_t = max(self.last_t, t)
        event = rec["event"]
        tid = rec.get("tid")
        if event == "thread_start":
            self.starts.append(rec)
            self.via[tid] = rec.get("via")
            if rec.get("python") is not False:
                self.live[tid] = {}         # a reused tid is a new thread
        elif event == "sample":
            self.samples.append(rec)
            sums = self.live.setdefault(tid, {})
            for key in FIGURES:
                v = num(rec.get(key))
                if v is not None:
                    sums[key] = sums.get(key, 0.0) + v
        elif event == "thread_exit":
            self.exited.append(rec)
            self.live.pop(tid, None)
        elif event == "process":
            self.processes.append(rec)
        elif event == "decision":
            self.decisions.append(rec)
        elif event == "note":
            self.notes.append(rec)
        elif event == "exit":
            self.exit = rec
        # Any other event is from a later issue: ignored, as the schema asks.

    # -- what the run says -------------------------------------------------

    @property
    def complete(self):
        return self.exit is not None

    @property
    def options(self):
        opts = self.start.get("options")
        return opts if isinstance(opts, dict) else {}

    def danger(self):
        d = num(self.options.get("gil_danger"))
        return d if d is not None and 0 <= d <= 1 else DEFAULT_DANGER

    def _row(self, rec, source):
        row = {"tid": rec.get("tid"),
               "via": rec.get("via", self.via.get(rec.get("tid"))),
               "python": rec.get("python"), "source": source}
        fig = {k: num(rec.get(k)) for k in FIGURES if num(rec.get(k)) is not None}
        row.update(fig)
        beta, beta_io = betas(fig)
        row["beta"] = num(rec.get("beta")) if num(rec.get("beta")) is not None else beta
        row["beta_io"] = (num(rec.get("beta_io")) if num(rec.get("beta_io")) is not None
                          else beta_io)
        return row

    def thread_rows(self):
        """Every thread's life totals: thread_exit records, then the threads
        alive at exit; without an exit record (a killed process) the Python
        threads still alive are summed from their samples."""
        rows = [self._row(r, "thread_exit") for r in self.exited]
        if self.exit is not None:
            alive = self.exit.get("threads")
            for r in alive if isinstance(alive, list) else []:
                if isinstance(r, dict):
                    rows.append(self._row(r, "exit"))
        else:
            for tid, sums in self.live.items():
                rows.append(self._row(dict(sums, tid=tid), "samples"))
        return rows

    def total_row(self, rows):
        if self.exit is not None and isinstance(self.exit.get("totals"), dict):
            row = self._row(self.exit["totals"], "exit")
            row["gil_wait_share"] = num(self.exit["totals"].get("gil_wait_share"))
            return row
        sums = {}
        for r in rows:
            if r.get("python") is False:
                continue
            for k in FIGURES:
                if k in r:
                    sums[k] = sums.get(k, 0.0) + r[k]
        row = self._row(sums, "sum of rows")
        wall = sums.get("wall_ms") or 0.0
        row["gil_wait_share"] = (sums.get("gil_wait_ms", 0.0) / wall) if wall > 0 else None
        return row

    def process_stats(self):
        out = {}
        for key, _kind in PROCESS_KEYS:
            vals = [num(p.get(key)) for p in self.processes]
            vals = [v for v in vals if v is not None]
            out[key] = ({"min": min(vals), "median": statistics.median(vals),
                         "max": max(vals), "n": len(vals)} if vals else None)
        return out

    def pinned_spans(self):
        """[(t_from, t_to, cpu)]: when the Python threads shared one CPU,
        from the process records' cpu (GIL affinity, mode auto)."""
        spans, cur = [], None
        for p in self.processes:
            t, cpu = num(p.get("t")), num(p.get("cpu"))
            if t is None:
                continue
            if cur and (cpu is None or cpu < 0 or cpu != cur[2]):
                spans.append((cur[0], t, cur[2]))
                cur = None
            if cur is None and cpu is not None and cpu >= 0:
                cur = (t, t, int(cpu))
        if cur:
            spans.append((cur[0], max(self.last_t, cur[0]), cur[2]))
        return spans

    def gate_spans(self):
        """[(t_from, t_to)]: when the gate was shut (schema 2's process
        records; each covers the interval that ends at its t)."""
        spans, cur, prev_t = [], None, 0.0
        for p in self.processes:
            t = num(p.get("t"))
            if t is None:
                continue
            shut = p.get("gate") == "shut"
            if shut and cur is None:
                cur = prev_t
            elif not shut and cur is not None:
                spans.append((cur, prev_t))
                cur = None
            prev_t = t
        if cur is not None:
            spans.append((cur, prev_t))
        return spans

    def gate_stats(self):
        """{"open": n, "shut": n, "shut_s": seconds} over the process records
        that say (schema 2), or None when none does."""
        states = [(num(p.get("t")), p.get("gate")) for p in self.processes]
        states = [(t, g) for t, g in states if t is not None and isinstance(g, str)]
        if not states:
            return None
        out = {"open": 0, "shut": 0, "shut_s": 0.0}
        prev_t = None
        for t, g in states:
            out[g] = out.get(g, 0) + 1
            if g == "shut" and prev_t is not None:
                out["shut_s"] += t - prev_t
            prev_t = t
        out["shut_s"] = round(out["shut_s"], 6)
        return out

    def counts(self):
        """The per-interval counts of process records summed over the run
        ({key: total}), for the keys some record carries."""
        out = {}
        for key, _label in PROCESS_COUNTS:
            vals = [num(p.get(key)) for p in self.processes]
            vals = [v for v in vals if v is not None]
            if vals:
                out[key] = sum(vals)
        return out

    def decision_counts(self):
        """{what: count}: K's actions, and from schema 2's records the pins
        and unpins (`pin`) and the gate's changes (`gate_was` -> `gate`)."""
        counts = {}
        for d in self.decisions:
            action = d.get("action")
            action = action if isinstance(action, str) else "?"
            counts[action] = counts.get(action, 0) + 1
            pin = d.get("pin")
            if pin in ("pin", "unpin"):
                counts[pin] = counts.get(pin, 0) + 1
            gate, was = d.get("gate"), d.get("gate_was")
            if isinstance(gate, str) and isinstance(was, str) and gate != was:
                key = "gate_shut" if gate == "shut" else "gate_open"
                counts[key] = counts.get(key, 0) + 1
        order = [a for a in ACTIONS if a in counts] + sorted(a for a in counts if a not in ACTIONS)
        return {a: counts[a] for a in order}

    def describe(self):
        s = self.start
        return (f"pid {clean(s.get('pid', '?'))}, python {clean(s.get('python', '?'))}, "
                f"mode {clean(s.get('mode', '?'))}")


# -- reading ---------------------------------------------------------------

def _line_list(numbers, limit=10):
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def warn(msg):
    print(f"{PROG}: warning: {msg}", file=sys.stderr)


def read_log(path):
    """The runs of a log file, in order. Damaged lines are skipped and named
    in one warning; what cannot be used at all raises LogError."""
    name = "standard input" if path == "-" else path
    try:
        f = (open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
             if path == "-" else open(path, encoding="utf-8", errors="replace"))
    except OSError as e:
        raise LogError(f"cannot read {name}: {e.strerror or e}") from None
    runs, damaged, before_start = [], [], []
    cut_short = None
    with f:
        try:
            for lineno, raw in enumerate(f, 1):
                line = raw.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    rec = None
                if not isinstance(rec, dict) or not isinstance(rec.get("event"), str):
                    damaged.append(lineno)
                    if not raw.endswith("\n"):
                        cut_short = lineno
                    continue
                if rec["event"] == "start":
                    check_schema(rec, name, lineno)
                    runs.append(Run(rec, lineno))
                elif runs:
                    runs[-1].add(rec, lineno)
                else:
                    before_start.append(lineno)
        except OSError as e:
            raise LogError(f"cannot read {name}: {e.strerror or e}") from None
    if not runs:
        what = "it is empty" if not (damaged or before_start) else "it has no start record"
        raise LogError(f"{name} is not a betapool log: {what} (every run begins with "
                       "one; is the beginning of the file missing?)")
    if damaged:
        if len(damaged) == 1 and cut_short == damaged[0]:
            warn(f"{name}: line {cut_short} is cut short (a half-written last line, "
                 "the process was probably killed); read up to it")
        elif len(damaged) == 1:
            warn(f"{name}: line {damaged[0]} is not a valid record; skipped it and read on")
        else:
            tail = f" (line {cut_short} cut short)" if cut_short else ""
            warn(f"{name}: skipped {len(damaged)} lines that are not valid records: "
                 f"lines {_line_list(damaged)}{tail}")
    if before_start:
        warn(f"{name}: ignored {len(before_start)} records before the first start "
             f"record: lines {_line_list(before_start)}")
    return runs


def check_schema(rec, name, lineno):
    schema = rec.get("schema")
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise LogError(f"{name}: the start record on line {lineno} has no valid schema "
                       f"number ({schema!r}); this {PROG} reads schema "
                       f"{', '.join(map(str, KNOWN_SCHEMAS))}")
    if schema not in KNOWN_SCHEMAS:
        newer = schema > max(KNOWN_SCHEMAS)
        raise LogError(f"{name}: line {lineno}: log schema {schema} is "
                       f"{'newer than' if newer else 'not one of'} the schemas this "
                       f"{PROG} reads ({', '.join(map(str, KNOWN_SCHEMAS))})"
                       + ("; read it with the betapool that wrote it, or a newer one"
                          if newer else ""))


def pick_runs(runs, which):
    if which is None:
        return list(enumerate(runs, 1))
    if not 1 <= which <= len(runs):
        raise LogError(f"there is no run {which}: the log holds {len(runs)} run"
                       f"{'s' if len(runs) != 1 else ''}")
    return [(which, runs[which - 1])]


# -- summary ---------------------------------------------------------------

def fmt(value, kind="ms"):
    if value is None:
        return "-"
    if kind == "ms":
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:.4f}"
    if kind == "count":
        return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
    return clean(value)


def short_via(via):
    if not isinstance(via, str):
        return "-"
    return clean(via[len("PyThread_"):] if via.startswith("PyThread_") else via)


def table(header, rows, left=1):
    """Plain text columns; the first `left` columns are left-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    out = []
    for r in [header] + rows:
        cells = [str(c).ljust(w) if i < left else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def summary_data(number, count, run):
    rows = run.thread_rows()
    total = run.total_row(rows)
    s = run.start
    return {
        "run": number, "of": count,
        "pid": s.get("pid"), "python": s.get("python"), "version": s.get("version"),
        "mode": s.get("mode"), "gil": s.get("gil"), "hooks": s.get("hooks"),
        "options": run.options, "first_line": run.first_line, "last_line": run.last_line,
        "duration_s": run.last_t, "complete": run.complete,
        "threads": rows, "total": total,
        "process": {"intervals": len(run.processes), **run.process_stats()},
        "decisions": run.decision_counts(), "decision_records": len(run.decisions),
        "pinned": [{"from_s": a, "to_s": b, "cpu": c} for a, b, c in run.pinned_spans()],
        "gate": run.gate_stats(), "counts": run.counts(), "schema": s.get("schema"),
        "notes": [{"level": n.get("level"), "message": n.get("message")} for n in run.notes],
    }


def summary_text(d, limit=None):
    """limit: show at most this many thread rows (the longest-lived first,
    the main thread always), None for all."""
    s = [f"run {d['run']} of {d['of']}: pid {fmt(d['pid'], 'text')}, python "
         f"{fmt(d['python'], 'text')}, betapool {fmt(d['version'], 'text')}, mode "
         f"{fmt(d['mode'], 'text')}, gil {fmt(d['gil'], 'text')}"]
    hooks = d["hooks"] if isinstance(d["hooks"], list) else []
    s.append(f"  log lines {d['first_line']}-{d['last_line']}, {d['duration_s']:.3f} s; "
             f"hooks: {', '.join(clean(h) for h in hooks) or 'none'}")
    if not d["complete"]:
        s.append("  incomplete: no exit record, the process did not end normally; "
                 "the total is summed from the rows")
    s.append("")
    rows = d["threads"]
    parked = any("parked_ms" in r for r in rows + [d["total"]])
    header = ["tid", "via", "wall", "held", "GIL wait", "idle", "blocked"]
    header += ["parked"] if parked else []
    header += ["beta", "beta_io"]
    body = []
    shown = rows
    if limit is not None and len(rows) > limit:
        keep = sorted(rows, key=lambda r: (r.get("via") != "main", -(r.get("wall_ms") or 0)))[:limit]
        keep_ids = {id(r) for r in keep}
        shown = [r for r in rows if id(r) in keep_ids]
    for r in shown + [dict(d["total"], tid="total", via="")]:
        mark = "*" if r.get("source") == "samples" else ""
        line = [fmt(r.get("tid"), "text") + mark, short_via(r.get("via")) if r.get("via") != "" else ""]
        line += [fmt(r.get(k)) for k in ("wall_ms", "gil_held_ms", "gil_wait_ms",
                                         "idle_ms", "blocked_ms")]
        line += [fmt(r.get("parked_ms"))] if parked else []
        line += [fmt(r.get("beta"), "ratio"), fmt(r.get("beta_io"), "ratio")]
        body.append(line)
    s.append(f"threads ({len(rows)}; times in ms)")
    lines = table(header, body, left=2)
    s += lines[:-1] + ["  " + "-" * (len(max(lines, key=len)) - 2)] + lines[-1:]
    if len(shown) < len(rows):
        s.append(f"  ({len(rows) - len(shown)} more threads not shown, the total counts them: "
                 f"--all lists every one)")
    if d["total"].get("gil_wait_share") is not None:
        s.append(f"  GIL wait share over the run: {d['total']['gil_wait_share']:.4f}")
    if any(r.get("source") == "samples" for r in rows):
        s.append("  * no thread_exit record: summed from the thread's samples")
    s.append("")
    proc = d["process"]
    s.append(f"process over time ({proc['intervals']} intervals)")
    body = []
    for key, kind in PROCESS_KEYS:
        st = proc[key]
        label = "gil_waiting (demand)" if key == "gil_waiting" else key
        body.append([label] + ([fmt(st[m], kind) for m in ("min", "median", "max")]
                               if st else ["-", "-", "-"]))
    s += table(["", "min", "median", "max"], body)
    if d["pinned"]:
        held = sum(p["to_s"] - p["from_s"] for p in d["pinned"])
        where = ", ".join(f"{p['from_s']:.1f}-{p['to_s']:.1f} s on cpu {p['cpu']}" for p in d["pinned"][:5])
        more = f" and {len(d['pinned']) - 5} more" if len(d["pinned"]) > 5 else ""
        s.append(f"  Python threads on one CPU for {held:.1f} s: {where}{more}")
    if d.get("gate"):
        g = d["gate"]
        s.append(f"  gate shut in {g.get('shut', 0)} of {g.get('shut', 0) + g.get('open', 0)} "
                 f"intervals ({g['shut_s']:.1f} s)")
    for key, label in PROCESS_COUNTS:
        if key in d.get("counts", {}):
            s.append(f"  {label} over the run: {fmt(d['counts'][key], 'count')}")
    s.append("")
    total = d["decision_records"]
    s.append(f"decisions ({total})")
    if total:
        s += table(["action", "count"], [[clean(a), str(n)] for a, n in d["decisions"].items()])
    else:
        s.append("  none recorded")
    if d["notes"]:
        s.append("")
        s.append("notes")
        for n in d["notes"]:
            s.append(f"  {fmt(n['level'], 'text')}: {fmt(n['message'], 'text')}")
    return "\n".join(s)


def cmd_summary(args):
    runs = read_log(args.log)
    chosen = pick_runs(runs, args.run)
    data = [summary_data(n, len(runs), r) for n, r in chosen]
    if args.json:
        print(json.dumps({"format": JSON_FORMAT, "log": args.log, "runs": data}, indent=1))
    else:
        limit = None if args.all else 20
        print("\n\n".join(summary_text(d, limit) for d in data))
    return 0


# -- decisions -------------------------------------------------------------

def arrow():
    enc = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "\u2192".encode(enc)
        return "\u2192"
    except (UnicodeEncodeError, LookupError):
        return "->"


def decision_extras(d):
    """What a schema 2 decision adds to its K reason: the gate (with its
    reason when it opened or shut) and the CPU (with its reason when the
    threads were pinned or unpinned). Nothing for schema 1."""
    out = []
    gate, was = d.get("gate"), d.get("gate_was")
    if isinstance(gate, str):
        if isinstance(was, str) and was != gate:
            why = d.get("gate_reason")
            out.append(f"gate {clean(was)}\u2192{clean(gate)}" + (f": {clean(why)}" if why else ""))
        else:
            out.append(f"gate {clean(gate)}")
    pin = d.get("pin")
    if isinstance(pin, str) and pin in ("pin", "unpin"):
        cpu = num(d.get("cpu"))
        why = d.get("pin_reason")
        where = f" cpu {int(cpu)}" if pin == "pin" and cpu is not None and cpu >= 0 else ""
        out.append(pin + where + (f": {clean(why)}" if why else ""))
    return "".join(f"; {o}" for o in out)


def cmd_decisions(args):
    runs = read_log(args.log)
    to = arrow()
    out = []
    for number, run in pick_runs(runs, args.run):
        out.append(f"run {number} of {len(runs)}: {run.describe()}: "
                   f"{len(run.decisions)} decision{'s' if len(run.decisions) != 1 else ''}")
        rows = []
        for d in run.decisions:
            t = num(d.get("t"))
            rows.append([
                f"{t:.3f}" if t is not None else "-",
                fmt(d.get("action"), "text"),
                f"{fmt(num(d.get('k_before')), 'count')}{to}{fmt(num(d.get('k_after')), 'count')}",
                "beta_io " + fmt(num(d.get("beta_io")), "ratio"),
                "demand " + fmt(num(d.get("demand")), "count"),
                fmt(d.get("reason", ""), "text") + decision_extras(d)])
        widths = [max((len(r[i]) for r in rows), default=0) for i in range(6)]
        for r in rows:
            cells = [r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                     r[3].ljust(widths[3]), r[4].ljust(widths[4]), r[5]]
            out.append("  " + "  ".join(cells).rstrip())
    print("\n".join(out))
    return 0


# -- plot ------------------------------------------------------------------

WIDTH, LEFT, RIGHT, TOP, PANEL_H, GAP, BOTTOM = 960, 80, 190, 74, 150, 34, 56
PLOT_W = WIDTH - LEFT - RIGHT

# Series drawn: (id, process key, panel, label, colour, style, step line?).
SERIES = (
    ("threads", "threads", 0, "threads alive", "#8c8c8c", "", True),
    ("k", "k", 0, "K (admitted)", "#1f5fa8", "", True),
    ("parked", "parked", 0, "threads parked", "#e07b00", "", True),
    ("demand", "gil_waiting", 0, "waiting for GIL", "#2e8b3a", "", True),
    ("gil_wait_share", "gil_wait_share", 1, "GIL wait share", "#7b3fa0", "", False),
    ("beta_io", "beta_io", 2, "beta_io (process)", "#c62828", "", False),
    ("beta", "beta", 2, "beta (seed's)", "#6d6d6d", "2,3", False),
)
PANELS = (("threads", "threads"), ("GIL wait share", "share of wall time"),
          ("blocking ratio", "ratio of time"))


def nice_step(span, target):
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fnum(v):
    return f"{v:.1f}".rstrip("0").rstrip(".")


def tick_label(v):
    return f"{v:.3f}".rstrip("0").rstrip(".")


def svg_document(run, number, count, logname):
    s = run.start
    t_end = max([run.last_t] + [num(p.get("t")) or 0.0 for p in run.processes]) or 1.0
    danger = run.danger()
    panel_top = [TOP + i * (PANEL_H + GAP) for i in range(len(PANELS))]
    height = panel_top[-1] + PANEL_H + BOTTOM

    def x(t):
        return LEFT + PLOT_W * t / t_end

    count_max = 1.0
    for sid, key, panel, *_ in SERIES:
        if panel == 0:
            for p in run.processes:
                v = num(p.get(key))
                if v is not None:
                    count_max = max(count_max, v)
    count_step = max(1, nice_step(count_max, 4))
    count_top = math.ceil(count_max / count_step) * count_step
    y_max = (count_top, 1.0, 1.0)

    def y(panel, v):
        v = min(max(v, 0.0), y_max[panel])
        return panel_top[panel] + PANEL_H * (1 - v / y_max[panel])

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">']
    title = (f"betapool \u2014 python {clean(s.get('python', '?'))}, pid "
             f"{clean(s.get('pid', '?'))}, mode {clean(s.get('mode', '?'))}")
    out.append(f"<title>{escape(title)}</title>")
    out.append(f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>')
    out.append(f'<text x="{LEFT}" y="26" font-size="17" font-weight="bold">{escape(title)}</text>')
    sub = (f"betapool {clean(s.get('version', '?'))}, gil {clean(s.get('gil', '?'))}, "
           f"{len(run.processes)} intervals over {run.last_t:.3f} s; {clean(logname)}, "
           f"run {number} of {count}")
    if not run.complete:
        sub += "; incomplete: no exit record (the process did not end normally)"
    out.append(f'<text x="{LEFT}" y="46" fill="#444444">{escape(sub)}</text>')

    t_step = nice_step(t_end, 8)
    ticks = [i * t_step for i in range(int(t_end / t_step + 1e-9) + 1)]
    for panel, (name, unit) in enumerate(PANELS):
        top, bottom = panel_top[panel], panel_top[panel] + PANEL_H
        out.append(f'<g id="panel-{panel}">')
        out.append(f'<rect x="{LEFT}" y="{top}" width="{PLOT_W}" height="{PANEL_H}" '
                   f'fill="#fafafa" stroke="#999999"/>')
        out.append(f'<text x="{LEFT}" y="{top - 6}" font-weight="bold">{escape(name)}</text>')
        cx, cy = 18, top + PANEL_H / 2
        out.append(f'<text x="{cx}" y="{fnum(cy)}" text-anchor="middle" '
                   f'transform="rotate(-90 {cx} {fnum(cy)})">{escape(unit)}</text>')
        ystep = count_step if panel == 0 else 0.25
        v = 0.0
        while v <= y_max[panel] + 1e-9:
            yy = fnum(y(panel, v))
            out.append(f'<line x1="{LEFT}" y1="{yy}" x2="{LEFT + PLOT_W}" y2="{yy}" '
                       f'stroke="#e4e4e4"/>')
            out.append(f'<text x="{LEFT - 6}" y="{yy}" dy="4" text-anchor="end">'
                       f'{tick_label(v)}</text>')
            v += ystep
        for t in ticks:
            xx = fnum(x(t))
            out.append(f'<line x1="{xx}" y1="{bottom}" x2="{xx}" y2="{bottom + 4}" stroke="#666666"/>')
            if panel == len(PANELS) - 1:
                out.append(f'<text x="{xx}" y="{bottom + 17}" text-anchor="middle">'
                           f'{tick_label(t)}</text>')
        legend_y = top + 14
        if panel == 0:
            spans = run.pinned_spans()
            out.append('<g id="pinned" fill="#f2a33a" fill-opacity="0.25">')
            for a, b, cpu in spans:
                xa, xb = x(min(a, t_end)), x(min(b, t_end))
                out.append(f'<rect class="pinned" x="{fnum(xa)}" y="{top}" width="{fnum(max(xb - xa, 1.0))}" '
                           f'height="{PANEL_H}"><title>on cpu {cpu}</title></rect>')
            out.append("</g>")
            # The gate (schema 2): shut spans as a band along the panel's foot.
            shut = run.gate_spans()
            out.append('<g id="gate" fill="#3b6fc4" fill-opacity="0.55">')
            for a, b in shut:
                xa, xb = x(min(a, t_end)), x(min(b, t_end))
                out.append(f'<rect class="gate-shut" x="{fnum(xa)}" y="{top + PANEL_H - 6}" '
                           f'width="{fnum(max(xb - xa, 1.0))}" height="6"><title>gate shut'
                           f'</title></rect>')
            out.append("</g>")
        if panel == 2:
            yy = fnum(y(2, danger))
            out.append(f'<line id="danger" x1="{LEFT}" y1="{yy}" x2="{LEFT + PLOT_W}" y2="{yy}" '
                       f'stroke="#c62828" stroke-width="1.2" stroke-dasharray="7,4"/>')
        for sid, key, sp, label, colour, dash, step in SERIES:
            if sp != panel:
                continue
            d = series_path(run.processes, key, step, x, lambda v, p=panel: y(p, v))
            lx = LEFT + PLOT_W + 12
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            if d:
                out.append(f'<path id="series-{sid}" d="{d}" fill="none" stroke="{colour}" '
                           f'stroke-width="1.6"{dash_attr}/>')
                out.append(f'<line x1="{lx}" y1="{legend_y - 4}" x2="{lx + 18}" y2="{legend_y - 4}" '
                           f'stroke="{colour}" stroke-width="2"{dash_attr}/>')
                out.append(f'<text x="{lx + 24}" y="{legend_y}">{escape(label)}</text>')
            else:
                out.append(f'<text x="{lx + 24}" y="{legend_y}" fill="#999999">'
                           f'{escape(label)}: no data</text>')
            legend_y += 17
        if panel == 0:
            lx = LEFT + PLOT_W + 12
            out.append(f'<rect x="{lx}" y="{legend_y - 10}" width="18" height="10" fill="#f2a33a" '
                       f'fill-opacity="0.25"/>')
            out.append(f'<text x="{lx + 24}" y="{legend_y}">on one CPU ({len(spans)})</text>')
            legend_y += 17
            if any(isinstance(p.get("gate"), str) for p in run.processes):
                out.append(f'<rect x="{lx}" y="{legend_y - 6}" width="18" height="6" '
                           f'fill="#3b6fc4" fill-opacity="0.55"/>')
                out.append(f'<text x="{lx + 24}" y="{legend_y}">gate shut ({len(shut)})</text>')
                legend_y += 17
        if panel == 2:
            lx = LEFT + PLOT_W + 12
            out.append(f'<line x1="{lx}" y1="{legend_y - 4}" x2="{lx + 18}" y2="{legend_y - 4}" '
                       f'stroke="#c62828" stroke-dasharray="7,4"/>')
            out.append(f'<text x="{lx + 24}" y="{legend_y}">danger zone {danger:g}</text>')
            legend_y += 17
            vetoes = [num(dd.get("t")) for dd in run.decisions if dd.get("action") == "veto"]
            vetoes = [t for t in vetoes if t is not None]
            out.append('<g id="vetoes" stroke="#111111" stroke-width="2">')
            for t in vetoes:
                xx = fnum(x(min(t, t_end)))
                out.append(f'<line class="veto" x1="{xx}" y1="{top}" x2="{xx}" y2="{top + 14}"/>')
            out.append("</g>")
            out.append(f'<line x1="{lx + 9}" y1="{legend_y - 10}" x2="{lx + 9}" y2="{legend_y}" '
                       f'stroke="#111111" stroke-width="1.5"/>')
            out.append(f'<text x="{lx + 24}" y="{legend_y}">veto ({len(vetoes)})</text>')
        if not run.processes:
            out.append(f'<text x="{LEFT + PLOT_W / 2}" y="{top + PANEL_H / 2}" '
                       f'text-anchor="middle" fill="#999999">no data</text>')
        out.append("</g>")
    last_bottom = panel_top[-1] + PANEL_H
    out.append(f'<text x="{LEFT + PLOT_W / 2}" y="{last_bottom + 40}" text-anchor="middle">'
               f'time since start (s)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n", title


def series_path(processes, key, step, x, y):
    """SVG path data for one key of the process records; a record without the
    key breaks the line. Step lines hold each value until the next record."""
    parts, prev = [], None
    for p in processes:
        t, v = num(p.get("t")), num(p.get(key))
        if t is None or v is None:
            prev = None
            continue
        px, py = fnum(x(t)), fnum(y(v))
        if prev is None:
            parts.append(f"M{px} {py}")
        elif step:
            parts.append(f"H{px} V{py}")
        else:
            parts.append(f"L{px} {py}")
        prev = (px, py)
    if not parts:
        return ""
    # A lone point would be invisible: give each run of points a width.
    return " ".join(parts) + " h2"


def cmd_plot(args):
    out_path = args.output
    low = out_path.lower()
    if not low.endswith((".svg", ".html", ".htm")):
        raise LogError(f"cannot tell the format of {out_path}: name it .svg or .html")
    runs = read_log(args.log)
    if args.run is None and len(runs) > 1:
        print(f"{PROG}: {args.log} holds {len(runs)} runs; plotting run 1 "
              "(choose another with --run N)", file=sys.stderr)
    number, run = pick_runs(runs, args.run or 1)[0]
    logname = "standard input" if args.log == "-" else os.path.basename(args.log)
    svg, title = svg_document(run, number, len(runs), logname)
    if low.endswith(".svg"):
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + svg
    else:
        text = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"/>"
                f"<title>{escape(title)}</title></head>\n<body>\n{svg}</body>\n</html>\n")
    try:
        with open(out_path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise LogError(f"cannot write {out_path}: {e.strerror or e}") from None
    return 0


# -- command line ----------------------------------------------------------

def run_number(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"not a run number: {text!r}")
    return n


def add_commands(sub):
    """The log commands, as sub-commands of `betapool` (argparse)."""
    def log_arg(p):
        p.add_argument("log", metavar="LOG", help="the log file ('-' for standard input)")
    p = sub.add_parser("summary", help="per-thread table, the process over time, decisions",
                       description="Summarise a betapool log: per-thread totals, the process "
                       "over time, the controller's decisions, notes.")
    log_arg(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON object, for scripts (default: text)")
    p.add_argument("--all", action="store_true",
                   help="list every thread (default: the 20 longest-lived)")
    p.add_argument("--run", type=run_number, metavar="N", help="only run N, from 1 (default: all)")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("decisions", help="the controller's decisions, one a line",
                       description="List the controller's decisions with their reasons.")
    log_arg(p)
    p.add_argument("--run", type=run_number, metavar="N", help="only run N, from 1 (default: all)")
    p.set_defaults(func=cmd_decisions)
    p = sub.add_parser("plot", help="draw a run over time as SVG (or HTML holding it)",
                       description="Draw one run over time: threads, K, parked, GIL wait "
                       "share, beta_io against the danger line, vetoes, time on one CPU.")
    log_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="FILE.svg, or FILE.html for a page holding the SVG (required)")
    p.add_argument("--run", type=run_number, metavar="N",
                   help="which run to draw, from 1 (default: 1)")
    p.set_defaults(func=cmd_plot)


def run_command(func, args):
    """Runs one log command; LogError and a closed pipe become exit statuses."""
    try:
        sys.stdout.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):
        pass
    try:
        return func(args)
    except LogError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def main(argv=None, prog="betapool-log"):
    """`betapool-log COMMAND ...`, the old name of `betapool COMMAND ...` for
    the log commands."""
    global PROG
    PROG = prog
    ap = argparse.ArgumentParser(prog=prog, description="Summarise, list or draw a betapool "
                                 "log (JSON Lines, schema " + ", ".join(map(str, KNOWN_SCHEMAS))
                                 + "); the same as `betapool summary|decisions|plot`.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_commands(sub)
    args = ap.parse_args(argv)
    return run_command(args.func, args)
