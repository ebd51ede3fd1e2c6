"""`betapool trace LOG -o trace.json`: a betapool log as Chrome trace-event
JSON, which Perfetto (ui.perfetto.dev) and chrome://tracing open.

- Per Python thread, a track: one slice per interval, named for where most
  of the thread's time went, holding one child slice per part of the split
  (held, GIL wait, idle, blocked, parked), laid end to end. The log has the
  split, not the order: within an interval the parts are drawn in that fixed
  order, not in the order they happened.
- Per process, counter tracks: K, parked, beta_io, GIL wait share, threads
  waiting for the GIL, threads alive, and (schema 2) forced and favoured.
- Decisions as instant events on the process, with their reasons in args.
- Process and thread names as metadata events.

Timestamps are microseconds since the shim started in each process. A pure
function of the runs; writing the file is the command line's.
"""
import bisect

from .reader import FIGURES, SPLIT, clean, num

# The parts of a thread's interval: (log key, slice name), in drawing order.
PARTS = tuple(zip(SPLIT, ("held", "GIL wait", "idle", "blocked", "parked")))
# Chrome's reserved colour names, so that a part has one colour everywhere.
COLOURS = {"held": "thread_state_running", "GIL wait": "thread_state_runnable",
           "idle": "thread_state_sleeping", "blocked": "thread_state_iowait",
           "parked": "thread_state_uninterruptible"}
# Counter tracks from process records: (log key, track name, series name).
# Perfetto names a counter track "<name> <series>"; chrome://tracing shows a
# track <name> with one series.
COUNTERS = (("k", "K", "threads"), ("parked", "parked", "threads"),
            ("beta_io", "beta_io", "ratio"), ("gil_wait_share", "GIL wait share", "ratio"),
            ("gil_waiting", "waiting for the GIL", "threads"),
            ("threads", "Python threads", "threads"),
            ("forced", "forced", "switches"), ("favoured", "favoured", "waits"))


def us(seconds):
    """Seconds as trace microseconds, to the nanosecond."""
    return round(seconds * 1e6, 3)


def run_events(run, number, pid):
    """The trace events of one run, with `pid` as its process id."""
    s = run.start
    events = []
    name = (f"python {clean(s.get('python', '?'))} pid {clean(s.get('pid', '?'))} "
            f"(betapool {clean(s.get('mode', '?'))}, run {number})")
    events.append({"name": "process_name", "ph": "M", "pid": pid,
                   "args": {"name": name}})
    events.append({"name": "process_sort_index", "ph": "M", "pid": pid,
                   "args": {"sort_index": number}})
    ticks = sorted({t for t in (num(p.get("t")) for p in run.processes) if t is not None})

    # Thread names, main thread first.
    starts = {}
    for rec in run.starts:
        tid, t = rec.get("tid"), num(rec.get("t"))
        if isinstance(tid, int) and not isinstance(tid, bool) and t is not None:
            starts.setdefault(tid, []).append(t)
    tids = []
    for rec in run.starts + run.samples:
        tid = rec.get("tid")
        if isinstance(tid, int) and not isinstance(tid, bool) and tid not in tids:
            if rec.get("event") == "thread_start" and rec.get("python") is False:
                continue
            tids.append(tid)
    for tid in tids:
        via = run.via.get(tid)
        label = "main thread" if via == "main" else "Python thread"
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                       "args": {"name": f"{label} {tid}"}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                       "args": {"sort_index": -1 if via == "main" else 0}})

    # Each thread's intervals.
    last_end = {}
    for rec in run.samples:
        tid, t, wall = rec.get("tid"), num(rec.get("t")), num(rec.get("wall_ms"))
        if not isinstance(tid, int) or isinstance(tid, bool) or t is None \
                or wall is None or wall <= 0:
            continue
        i = bisect.bisect_left(ticks, t)
        prev_tick = ticks[i - 1] if i > 0 else None
        began = [st for st in starts.get(tid, []) if st <= t]
        new = prev_tick is None or (began and began[-1] > prev_tick)
        # A thread that started in the interval ran up to its end; any other
        # from its start (one that exited ran from the start until it ended).
        t0 = t - wall / 1000.0 if new else prev_tick
        if prev_tick is not None:
            t0 = max(t0, prev_tick)
        start = max(us(t0), last_end.get(tid, 0.0))
        end = min(round(start + wall * 1000.0, 3), us(t)) if not new else us(t)
        if end <= start:
            continue
        last_end[tid] = end
        parts = [(label, num(rec.get(key)) or 0.0) for key, label in PARTS]
        parts = [(label, ms) for label, ms in parts if ms > 0]
        top = max(parts, key=lambda p: p[1]) if parts else ("blocked", 0.0)
        args = {key: num(rec.get(key)) for key in FIGURES if num(rec.get(key)) is not None}
        for key in ("beta", "beta_io", "forced", "favoured"):
            if num(rec.get(key)) is not None:
                args[key] = num(rec.get(key))
        share = top[1] / wall if wall > 0 else 0.0
        events.append({"name": f"{top[0]} {share:.0%}", "cat": "interval", "ph": "X",
                       "ts": start, "dur": round(end - start, 3), "pid": pid, "tid": tid,
                       "cname": COLOURS[top[0]], "args": args})
        at = start
        for label, ms in parts:
            dur = min(round(ms * 1000.0, 3), round(end - at, 3))
            if dur <= 0:
                break
            events.append({"name": label, "cat": "split", "ph": "X", "ts": round(at, 3),
                           "dur": dur, "pid": pid, "tid": tid, "cname": COLOURS[label],
                           "args": {"ms": ms, "share": round(ms / wall, 4)}})
            at = round(at + dur, 3)

    # Counters.
    for p in run.processes:
        t = num(p.get("t"))
        if t is None:
            continue
        for key, track, series in COUNTERS:
            v = num(p.get(key))
            if v is not None:
                events.append({"name": track, "cat": "process", "ph": "C", "ts": us(t),
                               "pid": pid, "args": {series: v}})
        cpu = num(p.get("cpu"))
        if cpu is not None:
            events.append({"name": "pinned CPU", "cat": "process", "ph": "C", "ts": us(t),
                           "pid": pid, "args": {"cpu": cpu}})
        if isinstance(p.get("gate"), str):
            events.append({"name": "gate shut", "cat": "process", "ph": "C", "ts": us(t),
                           "pid": pid,
                           "args": {"shut": 1 if p["gate"] == "shut" else 0}})

    # Decisions.
    for d in run.decisions:
        t = num(d.get("t"))
        if t is None:
            continue
        action = clean(d.get("action", "?"))
        kb, ka = num(d.get("k_before")), num(d.get("k_after"))
        label = action
        if kb is not None and ka is not None and kb != ka:
            label += f" K {int(kb)}\u2192{int(ka)}"
        if action in ("pin", "unpin") and num(d.get("cpu")) is not None:
            label += f" cpu {int(num(d['cpu']))}"
        gate, was = d.get("gate"), d.get("gate_was")
        if isinstance(gate, str) and isinstance(was, str) and gate != was:
            label += f"; gate {clean(gate)}"
        if d.get("pin") in ("pin", "unpin"):
            cpu = num(d.get("cpu"))
            label += f"; {d['pin']}" + (f" cpu {int(cpu)}" if d["pin"] == "pin" and cpu is not None
                                        and cpu >= 0 else "")
        args = {k: (clean(v) if isinstance(v, str) else v) for k, v in d.items()
                if k not in ("event", "t")}
        events.append({"name": label, "cat": "decision", "ph": "i", "s": "p", "ts": us(t),
                       "pid": pid, "args": args})
    for n in run.notes:
        t = num(n.get("t"))
        if t is not None:
            events.append({"name": f"note: {clean(n.get('message', ''))}"[:200], "cat": "note",
                           "ph": "i", "s": "p", "ts": us(t), "pid": pid,
                           "args": {"level": clean(n.get("level", "")),
                                    "message": clean(n.get("message", ""))}})
    return events


def document(runs, chosen, logname):
    events, pids = [], set()
    for number, run in chosen:
        pid = run.start.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid in pids:
            pid = 1_000_000 + number          # a pid seen twice: runs must not share tracks
        pids.add(pid)
        events += run_events(run, number, pid)
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"source": "betapool", "log": logname, "runs": len(chosen),
                          "version": runs[0].start.get("version") if runs else None}}
