"""`betapool top LOG`: a live view of a program running under betapool, in
the manner of `py-spy top`. It follows the log as the program writes it and
redraws at every interval: the process (threads, K, parked, beta_io, GIL wait
share, pinned CPU, and in schema 2 the gate and the GIL switches it forced
or favoured), the latest decision, and the busiest threads of the interval.
It ends when the run's exit record arrives, when the process is gone without
one, or on Ctrl-C. On a finished log it prints the last interval once.

On a terminal each frame replaces the last; otherwise (a pipe, a file) the
frames follow one another, each ending with a line of dashes.
"""
import json
import os
import shutil
import sys
import time

from . import _schema
from .reader import LogError, Run, check_schema, clean, num
from .report import decision_extras, fmt, short_via, table

SORTS = {"held": "gil_held_ms", "wait": "gil_wait_ms", "cpu": "cpu_ms",
         "blocked": "blocked_ms", "parked": "parked_ms", "idle": "idle_ms"}
POLL_S = 0.05


class Follower:
    """Reads a log as it grows; keeps the last run and its latest interval."""

    def __init__(self, path):
        self.path = path
        self.f = None
        self.partial = ""
        self.lineno = 0
        self.damaged = 0
        self.runs = 0
        self.run = None
        self.pending = []       # samples of the interval being written
        self.frame = None       # (process record, its samples)
        self.changed = False

    def open(self):
        if self.f is None:
            try:
                self.f = open(self.path, encoding="utf-8", errors="replace")
            except FileNotFoundError:
                return False
            except OSError as e:
                raise LogError(f"cannot read {self.path}: {e.strerror or e}") from None
        return True

    def poll(self):
        """Reads what has been written since the last call; True if anything was."""
        if not self.open():
            return False
        got = False
        while True:
            chunk = self.f.readline()
            if not chunk:
                return got
            got = True
            if not chunk.endswith("\n"):
                self.partial += chunk       # the writer is in the middle of a line
                continue
            line, self.partial = (self.partial + chunk).strip(), ""
            self.lineno += 1
            if line:
                self.add(line)

    def add(self, line):
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict) or not isinstance(rec.get("event"), str):
            self.damaged += 1
            return
        if rec["event"] == "start":
            check_schema(rec, self.path, self.lineno)
            self.runs += 1
            self.run = Run(rec, self.lineno)
            self.pending, self.frame, self.changed = [], None, True
            return
        if self.run is None:
            return
        self.run.add(rec, self.lineno)
        if rec["event"] == "sample":
            self.pending.append(rec)
        elif rec["event"] == "process":
            self.frame, self.pending, self.changed = (rec, self.pending), [], True
        elif rec["event"] in ("exit", "decision"):
            self.changed = True

    @property
    def finished(self):
        return self.run is not None and self.run.exit is not None


def pct(part, whole):
    return "-" if part is None or not whole else f"{100.0 * part / whole:5.1f}"


def process_alive(pid):
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True             # someone else's process: it exists
    return True


def render(fol, rows, width, sort_key, state):
    run = fol.run
    s = run.start
    out = []
    t = run.last_t
    out.append(f"betapool top  {os.path.basename(fol.path)}  pid {clean(s.get('pid', '?'))}  "
               f"python {clean(s.get('python', '?'))}  mode {clean(s.get('mode', '?'))}  "
               f"gil {clean(s.get('gil', '?'))}  t {t:.1f} s  [{state}]")
    if fol.frame is None:
        out.append("no interval yet: waiting for the first process record")
        samples, p = [], {}
    else:
        p, samples = fol.frame
        items = [("threads", fmt_count(p.get("threads")))]
        if num(p.get("k")) is not None:
            items.append(("K", fmt_count(p.get("k"))))
        if num(p.get("parked")) is not None:
            items.append(("parked", fmt_count(p.get("parked"))))
        items.append(("beta_io", fmt_ratio(p.get("beta_io"))))
        share = num(p.get("gil_wait_share"))
        items.append(("GIL wait", "-" if share is None else f"{100 * share:.0f}%"))
        items.append(("waiting", fmt_count(p.get("gil_waiting"))))
        cpu = num(p.get("cpu"))
        if cpu is not None:
            items.append(("pinned CPU", str(int(cpu)) if cpu >= 0 else "none"))
        if isinstance(p.get("gate"), str):
            items.append(("gate", clean(p["gate"])))
        for key in ("forced", "favoured"):
            if num(p.get(key)) is not None:
                items.append((key, fmt_count(p.get(key))))
        out.append("  ".join(f"{k} {v}" for k, v in items))
    counts = run.decision_counts()
    if counts:
        line = f"decisions {len(run.decisions)}: " + ", ".join(f"{clean(a)} {n}"
                                                                  for a, n in counts.items())
        d = run.decisions[-1]
        dt = num(d.get("t"))
        line += (f"  | last at {dt:.1f} s: " if dt is not None else "  | last: ") \
            + clean(d.get("reason", d.get("action", ""))) + decision_extras(d)
        out.append(line)
    else:
        out.append("decisions 0")
    if fol.damaged:
        out.append(f"({fol.damaged} damaged lines skipped)")
    out.append("")
    header = ["TID", "VIA", "HELD%", "WAIT%", "IDLE%", "BLOCK%", "PARK%", "CPU ms", "beta_io"]
    body = []
    ranked = sorted(samples, key=lambda r: (-(num(r.get(sort_key)) or 0.0),
                                            -(num(r.get("cpu_ms")) or 0.0)))
    for r in ranked[:rows]:
        wall = num(r.get("wall_ms"))
        tid = r.get("tid")
        body.append([clean(tid), short_via(run.via.get(tid)),
                     pct(num(r.get("gil_held_ms")), wall), pct(num(r.get("gil_wait_ms")), wall),
                     pct(num(r.get("idle_ms")), wall), pct(num(r.get("blocked_ms")), wall),
                     pct(num(r.get("parked_ms")), wall),
                     fmt(num(r.get("cpu_ms"))), fmt_ratio(r.get("beta_io"))])
    out += table(header, body, left=2)
    if len(samples) > rows:
        out.append(f"  ... {len(samples) - rows} more threads active in the interval")
    if not samples:
        out.append("  (no thread was active in the interval)")
    return [ln[:width] for ln in out] if width else out


def fmt_count(v):
    return fmt(num(v), "count")


def fmt_ratio(v):
    v = num(v)
    return "-" if v is None else f"{v:.3f}"


def follow(log, *, once=False, sort="held", rows=None, wait=None, no_clear=False,
           prog="betapool"):
    """Shows the log's last run until it ends (status 0), its process is gone
    without an exit record (1) or Ctrl-C (130); once: the latest interval,
    once. Messages start with prog."""
    tty = sys.stdout.isatty() and not no_clear
    fol = Follower(log)
    sort_key = SORTS[sort]
    waited = time.monotonic()
    while fol.run is None:
        if fol.poll():
            continue
        if once:
            if not fol.open():
                raise LogError(f"cannot read {log}: No such file or directory")
            raise LogError(f"{log} is not a betapool log yet: it has no start record")
        if wait is not None and time.monotonic() - waited > wait:
            raise LogError(f"no betapool log at {log} after {wait:g} s")
        time.sleep(POLL_S)
    # Everything already written is read: a finished log is shown once.
    while fol.poll():
        pass
    if fol.run is None:
        raise LogError(f"{log} is not a betapool log: it has no start record")
    frames = 0
    last_news = time.monotonic()

    def draw(state):
        nonlocal frames
        size = shutil.get_terminal_size((100, 24))
        shown = rows if rows else (max(3, size.lines - 8) if tty else 20)
        lines = render(fol, shown, size.columns if tty else 0, sort_key, state)
        if tty:
            sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        else:
            sys.stdout.write("\n".join(lines) + "\n" + "-" * 40 + "\n")
        sys.stdout.flush()
        frames += 1
        fol.changed = False

    try:
        while True:
            if fol.finished:
                draw("exited")
                return 0
            if once:
                draw("running")
                return 0
            if fol.changed:
                draw("running")
            if fol.poll():
                last_news = time.monotonic()
                continue
            interval = (num(fol.run.options.get("interval_ms"))
                        or _schema.OPTIONS["BETAPOOL_INTERVAL_MS"]["default"]) / 1000.0
            if time.monotonic() - last_news > max(2.0, 5 * interval) \
                    and not process_alive(fol.run.start.get("pid")):
                draw("gone")
                print(f"{prog}: the process ended without an exit record (killed?)",
                      file=sys.stderr)
                return 1
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return 130
