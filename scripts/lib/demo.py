"""The demo behind scripts/demo: the seed's workload (ThreadPoolExecutor(256),
each task a 1,000-iteration Python loop then a 0.1 ms sleep) without betapool,
observed by it, and under its veto; then what the log says about it."""
import argparse
import importlib.machinery
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load_bench():
    loader = importlib.machinery.SourceFileLoader("bench", os.path.join(ROOT, "scripts", "bench"))
    spec = importlib.util.spec_from_loader("bench", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "shim", "libbetapool.so"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--threads", type=int, default=256)
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "demo"))
    a = ap.parse_args()
    bench = load_bench()
    os.makedirs(a.out, exist_ok=True)
    log = os.path.join(a.out, "enforce.jsonl")
    obs_log = os.path.join(a.out, "observe.jsonl")

    def runner(env, tmp):
        args = argparse.Namespace(python=a.python, tasks=a.tasks, iters=1000, sleep=0.0001,
                                  lib=a.lib, env=env, cpu=None)
        return bench.Runner(args, tmp)

    rows = {"stock": [], "observe": [], "enforce": []}
    print(f"seed workload: {a.tasks} tasks on ThreadPoolExecutor({a.threads}), "
          f"{a.rounds} interleaved rounds, python {a.python}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        observe = runner({"BETAPOOL_MODE": "observe", "BETAPOOL_LOG": obs_log}, tmp)
        enforce = runner({"BETAPOOL_MODE": "enforce", "BETAPOOL_LOG": log}, tmp)
        for r in range(a.rounds):
            order = [("stock", observe, False), ("observe", observe, True), ("enforce", enforce, True)]
            for name, run, shim in order[r % 3:] + order[:r % 3]:
                rows[name].append(run.run(a.threads, False, shim))
    print(file=sys.stderr)
    keys = [("tasks_per_s", "tasks/s", "{:9.0f}"), ("in_p99_ms", "in-task p99 ms", "{:14.2f}"),
            ("e2e_p99_ms", "e2e p99 ms", "{:10.1f}"), ("cpu_s", "CPU s", "{:6.2f}"),
            ("ctx", "ctx switches", "{:12.0f}")]
    print(f"\n{'':9} " + " ".join(f"{h:>{len(f.format(0))}}" for _, h, f in keys) + "   vs stock")
    base = statistics.median(r["tasks_per_s"] for r in rows["stock"])
    for name, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k, _, _ in keys}
        cells = " ".join(f.format(med[k]) for k, _, f in keys)
        print(f"{name:9} {cells}   {med['tasks_per_s'] / base:5.2f}x")
    print("(medians; unpinned; rerun: scripts/demo, or scripts/bench seed for the full table)")
    tool = os.path.join(ROOT, "scripts", "betapool-log")
    print("\nWhat betapool saw (observe mode): the seed's beta against beta_io")
    subprocess.run([sys.executable, tool, "summary", obs_log], check=False)
    print("\nThe veto at work (enforce mode): decisions")
    out = subprocess.run([sys.executable, tool, "decisions", log], capture_output=True, text=True)
    lines = out.stdout.splitlines()
    print("\n".join(lines[:12] + (["  ..."] if len(lines) > 12 else [])))
    svg = os.path.join(a.out, "enforce.svg")
    subprocess.run([sys.executable, tool, "plot", log, "-o", svg], check=False)
    print(f"\nlogs: {obs_log} {log}\npicture: {svg}")


if __name__ == "__main__":
    main()
