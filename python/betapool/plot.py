"""`betapool plot`: one run drawn over time as SVG (or an HTML page holding
it): threads, K, parked and waiting; the GIL wait share; beta_io against the
danger line and the seed's beta; vetoes, time on one CPU and the gate's shut
spans. A pure function of a run; writing the file is the command line's.
"""
import math
from xml.sax.saxutils import escape

from .reader import clean, num

FORMATS = (".svg", ".html", ".htm")

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


def document(run, number, count, logname, html=False):
    """The file's text: an SVG document, or an HTML page holding the SVG."""
    svg, title = svg_document(run, number, count, logname)
    if not html:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"/>"
            f"<title>{escape(title)}</title></head>\n<body>\n{svg}</body>\n</html>\n")
