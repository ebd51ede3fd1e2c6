"""The reports in text and JSON: `betapool summary` (per thread, the
process over time, the decisions by kind, notes) and `betapool decisions`
(the controller's decisions, one a line), with the text helpers `top`
shares. Each function takes runs read by `reader` and returns text or data;
printing is the command line's.
"""
import math
import sys

from .reader import PROCESS_COUNTS, PROCESS_KEYS, clean, num

JSON_FORMAT = 2          # version of the reports' own --json output


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
        "gate": run.gate_stats(), "counts": run.counts(), "handoff": run.handoff(), "schema": s.get("schema"),
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
    h = d.get("handoff")
    served = h.get("served") if h else None
    if isinstance(served, dict) and any(num(v) for v in served.values()):
        s.append("  GIL hand-overs to waiters: " + ", ".join(
            f"{clean(k)} {fmt(num(v), 'count')}" for k, v in served.items() if num(v) is not None))
        s.append(f"  interactive waits p50 {fmt(num(h.get('interactive_wait_p50_us')), 'count')} us, "
                 f"p99 {fmt(num(h.get('interactive_wait_p99_us')), 'count')} us; longest computing wait "
                 f"{fmt(num(h.get('computing_wait_max_us')), 'count')} us; held back "
                 f"{fmt(num(h.get('held_back')), 'count')}, taken past a higher class "
                 f"{fmt(num(h.get('passed_over')), 'count')}")
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



# -- decisions -----------------------------------------------------------

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


def decisions_data(number, count, run):
    """One run's decisions for `decisions --json`: the records as logged
    (every key, reasons included), with the run they belong to."""
    s = run.start
    return {"run": number, "of": count, "pid": s.get("pid"), "python": s.get("python"),
            "mode": s.get("mode"), "schema": s.get("schema"),
            "decisions": [{k: finite(v) for k, v in d.items() if k != "event"}
                          for d in run.decisions]}


def finite(value):
    """A record's value made valid JSON: NaN and infinities (a damaged log)
    become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [finite(v) for v in value]
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    return value


def decisions_text(chosen, count):
    """The decisions of the chosen runs [(number, run)] of a log of `count`
    runs, one a line under a line per run."""
    to = arrow()
    out = []
    for number, run in chosen:
        out.append(f"run {number} of {count}: {run.describe()}: "
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
    return "\n".join(out)
