"""Reading a betapool log (JSON Lines, docs/log-format.md) into runs: the
reader, which skips damaged lines and refuses schemas it does not know, and
the model of one run (`Run`), which the reports (summary and decisions,
plot, trace, top) read.

Every field name the reports take from the log is listed here, once.
"""
import json
import math
import re
import statistics
import sys

try:
    from . import _schema
except ImportError as e:  # a source checkout never built
    raise ImportError("betapool/_schema.py is written by the build (meson compile -C build); "
                      "a source checkout looks for it in build/python/betapool") from e

KNOWN_SCHEMAS = (1, 2)
DEFAULT_DANGER = _schema.OPTIONS["BETAPOOL_GIL_DANGER"]["default"]   # the library's, for a log without it

# The log's field names and vocabulary, the only list of them in this
# package; the figures and the decisions' names come from the shim's own
# lists (_schema.py, written at build time): the per-thread figures of
# `sample` and `thread_exit` records (milliseconds), in the log's order.
FIGURES = _schema.FIGURE_FIELDS
# The parts a thread's wall time splits into, in drawing order.
SPLIT = ("gil_held_ms", "gil_wait_ms", "idle_ms", "blocked_ms", "parked_ms")
# Keys of `process` records summarised over time, with their kind.
PROCESS_KEYS = (("threads", "count"), ("k", "count"), ("parked", "count"),
                ("gil_waiting", "count"), ("gil_wait_share", "ratio"),
                ("beta", "ratio"), ("beta_io", "ratio"))
# Counts per interval (schema 2) that the summary also adds up over the run.
PROCESS_COUNTS = (("forced", "forced GIL switches"), ("favoured", "GIL waits shortened"),
                  ("takes", "GIL takes"), ("cond_waits", "waits on the GIL's condition"))
# What decisions are counted as, in this order, named as the exit record's
# "decisions": K's actions, then the CPU's (`pin`) and the gate's changes.
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

    def handoff(self):
        """The exit record's directed hand-off counts (mode auto), or None:
        {served: {class: n}, interactive_wait_p50_us, ..._p99_us,
        computing_wait_max_us, held_back, passed_over}."""
        h = self.exit.get("handoff") if self.exit is not None else None
        return h if isinstance(h, dict) else None

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


# -- reading ------------------------------------------------------------

def _line_list(numbers, limit=10):
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def stderr_warning(msg, prog="betapool"):
    print(f"{prog}: warning: {msg}", file=sys.stderr)


def read_log(path, warn=stderr_warning):
    """The runs of a log file ('-': standard input), in order. Damaged lines
    are skipped and named in one call of warn(message); what cannot be used
    at all raises LogError."""
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
                       f"number ({schema!r}); this betapool reads schema "
                       f"{', '.join(map(str, KNOWN_SCHEMAS))}")
    if schema not in KNOWN_SCHEMAS:
        newer = schema > max(KNOWN_SCHEMAS)
        raise LogError(f"{name}: line {lineno}: log schema {schema} is "
                       f"{'newer than' if newer else 'not one of'} the schemas this "
                       f"betapool reads ({', '.join(map(str, KNOWN_SCHEMAS))})"
                       + ("; read it with the betapool that wrote it, or a newer one"
                          if newer else ""))


def pick_runs(runs, which):
    if which is None:
        return list(enumerate(runs, 1))
    if not 1 <= which <= len(runs):
        raise LogError(f"there is no run {which}: the log holds {len(runs)} run"
                       f"{'s' if len(runs) != 1 else ''}")
    return [(which, runs[which - 1])]
