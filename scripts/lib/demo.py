"""The demo behind scripts/demo: a few cases of `bench matrix` run stock and
under betapool's default mode (LD_PRELOAD and no BETAPOOL_* variable but the
log), then what the log says. It runs through the same runner and case table
as scripts/bench, so a change to them is seen here too (tests/integration/
test_demo.py runs `scripts/demo --quick`)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from . import matrix, runner

SEED_256 = matrix.Case(
    "seed-256", "the seed's workload: tasks of a 1,000-iteration loop and a 0.1 ms sleep "
    "on ThreadPoolExecutor(256) (20,000 tasks; 3,000 with --quick)", "seed.py",
    lambda c: [20_000, 256, 1000, 0.0001], lambda c: [3_000, 256, 1000, 0.0001],
    matrix.Metric("tasks_per_s", "tasks/s"), matrix.Metric("in_p99_ms", "in-task p99 ms", "lower"),
    [matrix.Metric("e2e_p99_ms", "end-to-end p99 ms", "lower")])
DEMO_CASES = {"seed-256": SEED_256, "lag-32": matrix.BY_NAME["lag-32"],
              "sock-main-4": matrix.BY_NAME["sock-main-4"]}
DEFAULT_CASES = ["seed-256", "lag-32", "sock-main-4"]
TOOL = os.path.join(str(runner.REPO_ROOT), "scripts", "betapool")


def log_tool(*args):
    cp = subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, text=True,
                        timeout=120)
    return cp.returncode, cp.stdout + cp.stderr


def short_summary(data):
    """What `betapool summary --json` says about each run of a log, without
    the per-thread rows: the threads' total, the process over time, decisions."""
    return "\n\n".join(run_summary(run) for run in data["runs"])


def run_summary(run):
    total = run["total"]
    lines = [f"run of pid {run['pid']}, python {run['python']}, mode {run['mode']}: "
             f"{len(run['threads'])} threads, {run['duration_s']:.1f} s"]
    parts = [("wall", "wall_ms"), ("held", "gil_held_ms"), ("GIL wait", "gil_wait_ms"),
             ("idle", "idle_ms"), ("blocked", "blocked_ms"), ("parked", "parked_ms")]
    lines.append("  threads' total, ms: " + ", ".join(
        f"{label} {total[key]:.0f}" for label, key in parts if total.get(key) is not None)
        + "".join(f", {k} {total[k]:.4f}" for k in ("beta", "beta_io")
                  if total.get(k) is not None))
    proc = run["process"]
    lines.append(f"process over time ({proc['intervals']} intervals): min / median / max")
    for key, st in proc.items():
        if isinstance(st, dict):
            lines.append(f"  {key:<15} " + " / ".join(f"{st[m]:g}" for m in ("min", "median", "max")))
    if run.get("gate"):
        g = run["gate"]
        lines.append(f"  gate shut in {g.get('shut', 0)} of {g.get('shut', 0) + g.get('open', 0)} "
                     f"intervals ({g['shut_s']:.1f} s)")
    for p in run["pinned"]:
        lines.append(f"  on cpu {p['cpu']} from {p['from_s']:.1f} to {p['to_s']:.1f} s")
    lines.append(f"decisions ({run['decision_records']}): "
                 + (", ".join(f"{a} {n}" for a, n in run["decisions"].items()) or "none"))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(
        prog="scripts/demo",
        description="Install what is missing, build, then run a few of `scripts/bench matrix`'s "
                    "cases without betapool and under its default mode (LD_PRELOAD, no "
                    "BETAPOOL_* variable but BETAPOOL_LOG), interleaved, and show what the log "
                    "says. Cases: " + "; ".join(f"{n}: {c.title}" for n, c in DEMO_CASES.items()))
    ap.add_argument("--quick", action="store_true",
                    help="1 pair of short runs (well under a minute; a smoke run, not a result)")
    ap.add_argument("--pairs", type=int, help="interleaved pairs per case (default 3; 1 with --quick)")
    ap.add_argument("--cases", type=runner.parse_list, default=DEFAULT_CASES,
                    help="comma-separated subset of: " + ", ".join(DEMO_CASES)
                    + f" (default: {','.join(DEFAULT_CASES)})")
    ap.add_argument("--python", default=runner.default_python(),
                    help=f"interpreter to run ({runner.DEFAULT_PYTHON_HELP})")
    ap.add_argument("--out", default=os.path.join(str(runner.REPO_ROOT), "build", "demo"),
                    help="directory for the logs and the picture (default: build/demo)")
    ap.add_argument("--json", metavar="FILE", help="write every run's raw results here")
    runner.add_side_options(ap)
    a = ap.parse_args()
    unknown = [c for c in a.cases if c not in DEMO_CASES]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(DEMO_CASES)}")
    pairs = a.pairs or (1 if a.quick else 3)
    if pairs < 1:
        ap.error("--pairs must be >= 1")
    lib = runner.check_lib(a.lib, "demo")
    sides = runner.make_sides(lib, dict(a.env), dict(a.variant))
    os.makedirs(a.out, exist_ok=True)
    for old in os.listdir(a.out):
        if old.endswith(".jsonl"):
            os.unlink(os.path.join(a.out, old))

    print("betapool demo: each case without betapool (stock) and with it preloaded in its "
          f"default mode, {pairs} interleaved pair(s)" + (" (--quick)" if a.quick else ""))
    for line in runner.header_lines(a.python, sides, lib):
        print("  " + line)
    sys.stdout.flush()
    results = {"pairs": pairs, "quick": a.quick, "sides": {s.name: s.extra for s in sides},
               "cases": {}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="betapool-demo.") as tmp:
        ctx = matrix.Context(a.quick, a.python, tmp)
        try:
            for i, name in enumerate(a.cases):
                case = DEMO_CASES[name]
                runner.progress(f"[{i + 1}/{len(a.cases)} {name}] {case.title}")
                runs = matrix.run_case(case, ctx, sides, pairs, futex=False, log_dir=a.out,
                                       index=f"{i + 1}/{len(a.cases)} ")
                figs = matrix.summarise(case, sides, runs)
                results["cases"][name] = {"title": case.title, "runs": runs, "figures": figs}
                for side, fig in figs.items():
                    for m in [case.throughput, case.latency] + case.more + [
                            matrix.Metric("cpu_s", "CPU s", "lower"),
                            matrix.Metric("ctx", "context switches", "lower")]:
                        if m is None:
                            continue
                        f = fig[m.key]
                        rows.append([name, m.label, runner.number(f["stock"]), side,
                                     runner.number(f["shim"]), runner.ratio_cell(f["ratios"])])
        finally:
            ctx.close()
    runner.print_table("stock against betapool (medians; side/stock: median [min-max] of the pairs)",
                       ["case", "figure", "stock", "side", "side's", "side/stock"], rows, False, left=2)

    logs = sorted(f for f in os.listdir(a.out) if f.endswith(".jsonl"))
    results["logs"] = [os.path.join(a.out, f) for f in logs]
    first = a.cases[0]
    mine = [f for f in logs if f.startswith(f"{first}-{sides[1].name}-")] if len(sides) > 1 else []
    if mine:
        log = os.path.join(a.out, mine[-1])
        print(f"\nWhat betapool's log says about the last {first} run ({sides[1].name}):")
        rc, text = log_tool("summary", "--json", log)
        try:
            print(short_summary(json.loads(text)))
        except (ValueError, KeyError, TypeError):
            print(text)
            rc = rc or 1
        rc2, text2 = log_tool("decisions", log)
        lines = text2.splitlines()
        print("\n".join(lines[:14] + (["  ..."] if len(lines) > 14 else [])))
        svg = os.path.join(a.out, f"{first}.svg")
        rc3, _ = log_tool("plot", log, "-o", svg)
        results["log_tool"] = {"summary": rc, "decisions": rc2, "plot": rc3}
        print(f"\nlogs: {runner.shown_path(a.out)}/*.jsonl ({len(logs)}); picture: "
              f"{runner.shown_path(svg) if rc3 == 0 else '(plot failed)'}")
        print(f"more: scripts/betapool summary {runner.shown_path(log)}; "
              "the whole matrix: scripts/bench matrix")
        if rc or rc2 or rc3:
            print("demo: betapool's reports failed on the demo's log", file=sys.stderr)
            return 1
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except runner.RunError as e:
        print(f"demo: {e}", file=sys.stderr)
        sys.exit(1)
