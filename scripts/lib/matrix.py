"""`bench matrix`: every case stock against the library's default mode (and any
--variant), interleaved pairs, medians and [min-max] of the per-pair ratios.
The case table is CASES below; the seed's cases come from seed.py."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from . import callgrind, runner
from .seed import Seed, seed_table


class Metric:
    def __init__(self, key, label, better="higher"):
        self.key, self.label, self.better = key, label, better


class Case:
    """One matrix case: a workload, its arguments (full and --quick), the
    figures that matter to it (throughput first, then latency, then more)."""

    def __init__(self, name, title, workload, args, quick_args, throughput, latency=None,
                 more=(), needs=None, python=None, env=None, driver=None, echo=False,
                 data=False, futex=False, timeout=120, cpus=None):
        self.name, self.title, self.workload = name, title, workload
        self.cpus = cpus  # run on this many of the allowed CPUs (the first ones)
        self.args, self.quick_args = args, quick_args
        self.throughput, self.latency, self.more = throughput, latency, list(more)
        self.needs, self.python, self.env = needs, python, env or {}
        self.driver, self.echo, self.data, self.futex = driver, echo, data, futex
        self.timeout = timeout

    def metrics(self):
        return [m for m in [self.throughput, self.latency] + self.more if m]


# ---- wrk, for the HTTP cases ----------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * (_UNITS.get(m.group(2)) or 60e3)


def parse_wrk(out):
    """requests/s, p50/p99 ms and errors from `wrk --latency` output."""
    r = {"req_per_s": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan"),
         "errors": 0.0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["req_per_s"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.0+)?%\s+(\S+)", out, re.M)
        if m:
            r[key] = _ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["errors"] = float(sum(int(g) for g in m.groups()))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["errors"] += float(m.group(1))
    return r


def wrk_driver(duration):
    def drive(info):
        argv = ["wrk", "-t2", "-c8", f"-d{duration}s", "--timeout", "2s", "--latency",
                f"http://127.0.0.1:{info['port']}/"]
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
        if cp.returncode != 0:
            raise runner.RunError(f"wrk failed ({cp.returncode}): {cp.stderr.strip()}")
        r = parse_wrk(cp.stdout)
        if r["req_per_s"] != r["req_per_s"]:
            raise runner.RunError(f"could not read wrk's output:\n{cp.stdout}")
        return r
    return drive


def gunicorn_driver(duration):
    """Two wrks at once: 16 connections of CPU requests (/cpu) for the
    throughput, 2 of cheap ones (/) for the latency."""
    def drive(info):
        url = f"http://127.0.0.1:{info['port']}"
        argv = ["wrk", "-t2", "-c16", f"-d{duration}s", "--timeout", "5s", url + "/cpu"]
        cpu = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        argv = ["wrk", "-t1", "-c2", f"-d{duration}s", "--timeout", "5s", "--latency", url + "/"]
        cheap = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        outs = []
        for p in (cpu, cheap):
            try:
                out, err = p.communicate(timeout=duration + 30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                raise runner.RunError("wrk did not end")
            if p.returncode != 0:
                raise runner.RunError(f"wrk failed ({p.returncode}): {err.strip()}")
            outs.append(parse_wrk(out))
        c, l = outs
        if c["req_per_s"] != c["req_per_s"] or l["req_per_s"] != l["req_per_s"]:
            raise runner.RunError("could not read wrk's output")
        return {"cpu_req_per_s": c["req_per_s"], "cheap_req_per_s": l["req_per_s"],
                "p50_ms": l["p50_ms"], "p99_ms": l["p99_ms"], "errors": c["errors"] + l["errors"]}
    return drive


# ---- the cases --------------------------------------------------------------

RT = Metric("rt_per_s", "round trips/s")
P99 = Metric("p99_ms", "p99 ms", "lower")
CPU_RATE = Metric("cpu_msteps_per_s", "CPU threads' Msteps/s")
FUTEX = Metric("futex", "futex calls", "lower")


def _sock(where, n):
    return Case(f"sock-{where}-{n}",
                f"a {'main-thread' if where == 'main' else 'worker-thread'} TCP client, "
                f"round trips to an echo server in another process, next to {n} CPU threads",
                "sockclient.py", lambda c, n=n: [c.echo_port, n, 2.0, where],
                lambda c, n=n: [c.echo_port, n, 0.5, where],
                RT, P99, [Metric("p50_ms", "p50 ms", "lower"), CPU_RATE,
                          Metric("cpu_max_gap_ms", "CPU threads' longest stall ms", "lower")],
                echo=True)


def _lag(t, mode="upfront"):
    return Case(f"lag-{t}" if mode == "upfront" else f"lag-inflight-{t}",
                f"main thread sleeping 2 ms in a loop next to ThreadPoolExecutor({t}) of "
                f"pure-Python tasks (oversleep)" + ("" if mode == "upfront" else
                                                    f", {t} kept in flight by a thread submitting "
                                                    f"one as one completes"),
                "lag.py", lambda c, t=t: [t, 4000, 10000, mode], lambda c, t=t: [t, 600, 10000, mode],
                Metric("tasks_per_s", "pool tasks/s"), Metric("lag_p99_ms", "lag p99 ms", "lower"),
                [Metric("lag_p50_ms", "lag p50 ms", "lower"),
                 Metric("lag_max_ms", "lag max ms", "lower")])


def _http(ncpu):
    dur = lambda c: 1 if c.quick else 3  # noqa: E731
    case = Case("http-alone" if ncpu == 0 else f"http-cpu{ncpu}",
                "ThreadingHTTPServer (a thread per connection, small JSON handler) under "
                "wrk -c8" + (f", next to {ncpu} CPU threads" if ncpu else ""),
                "httpserver.py", lambda c: [ncpu], lambda c: [ncpu],
                Metric("req_per_s", "requests/s"), P99,
                [Metric("p50_ms", "p50 ms", "lower"), Metric("errors", "wrk errors", "lower")]
                + ([CPU_RATE] if ncpu else []), needs="wrk")
    case.driver = lambda c: wrk_driver(dur(c))
    return case


def _gunicorn(workers=2, threads=16):
    case = Case(f"gunicorn-w{workers}", f"gunicorn -w {workers} -k gthread --threads {threads}, a Flask app: "
                "/cpu computes ~5-10 ms of pure Python, / is a small JSON body; wrk -c16 on /cpu and wrk -c2 "
                "on / at once (Debian's gunicorn, python3-flask, wrk; Debian's python3)",
                "gunicorn_app.py", lambda c: [workers, threads], lambda c: [workers, threads],
                Metric("cpu_req_per_s", "CPU requests/s"), Metric("p99_ms", "cheap p99 ms", "lower"),
                [Metric("p50_ms", "cheap p50 ms", "lower"),
                 Metric("cheap_req_per_s", "cheap requests/s"),
                 Metric("errors", "wrk errors", "lower")],
                needs="gunicorn", python=runner.DEBIAN_PYTHON, timeout=180)
    case.driver = lambda c: gunicorn_driver(2 if c.quick else 5)
    return case


def _multiseed(procs):
    return Case(f"seed-{procs}p", f"{procs} processes of the seed's pool (T=256) started together "
                "by multiprocessing (fork) on 2 CPUs, 20,000 tasks in all",
                "multiseed.py", lambda c: [procs, 20_000, 256, 1000, 0.0001],
                lambda c: [procs, 4000, 256, 1000, 0.0001],
                Metric("tasks_per_s", "tasks/s, all processes"), None,
                [Metric("slowest_tasks_per_s", "slowest process's tasks/s")], cpus=2, timeout=300)


CASES = [
    _gunicorn(),
    _gunicorn(1, 32),
    _multiseed(2),
    _multiseed(4),
    Case("seed-taskset", "the seed's pool (T=256, 10,000 tasks) twice at once: one process "
         "confined to the first CPU (as taskset -c does), one free, on 2 CPUs",
         "tasksetpair.py", lambda c: [10_000, 256, 1000, 0.0001],
         lambda c: [3000, 256, 1000, 0.0001],
         Metric("tasks_per_s", "tasks/s, both"), None,
         [Metric("taskset_tasks_per_s", "confined process's tasks/s"),
          Metric("free_tasks_per_s", "free process's tasks/s")], cpus=2, timeout=300),
    Case("cpu-64t", "a pure-CPU pool of 64 plain threads (fixed work)", "cpupool.py",
         lambda c: [20_000_000, 64, "-"], lambda c: [3_000_000, 64, "-"],
         Metric("msteps_per_s", "Msteps/s"), None, [FUTEX], futex=True),
    _lag(32),
    _lag(256),
    _lag(32, "inflight"),
    _lag(256, "inflight"),
    _sock("main", 1), _sock("main", 4), _sock("main", 16),
    _sock("worker", 1), _sock("worker", 4), _sock("worker", 16),
    Case("hashlib-4t", "4 threads hashing 8 MiB buffers (SHA-256 releases the GIL)",
         "hashpool.py", lambda c: [200, 4, "-"], lambda c: [32, 4, "-"],
         Metric("mib_per_s", "MiB/s")),
    Case("read64k-1t", "1 thread of 64 KiB os.preadv from the page cache", "read64k.py",
         lambda c: [80_000, 1, c.data], lambda c: [12_000, 1, c.data],
         Metric("reads_per_s", "reads/s"), data=True),
    Case("read64k-4t", "4 threads of 64 KiB os.preadv from the page cache", "read64k.py",
         lambda c: [80_000, 4, c.data], lambda c: [12_000, 4, c.data],
         Metric("reads_per_s", "reads/s"), data=True),
    Case("socket-4t", "4 threads of 64-byte socketpair round trips (echo threads)",
         "socketpair.py", lambda c: [25_000, 4, "-"], lambda c: [4_000, 4, "-"],
         RT, P99, [Metric("p50_ms", "p50 ms", "lower")]),
    _http(0),
    _http(8),
    Case("numpy-4t", "4 threads of 256x256 numpy matmul (BLAS releases the GIL; "
         "Debian's python3 and python3-numpy, one BLAS thread each)",
         "numpy_pool.py", lambda c: [4, 256, 1.0], lambda c: [4, 256, 0.3],
         Metric("matmul_per_s", "matmuls/s"), None,
         [Metric("speedup", "speedup over 1 thread"), Metric("single_per_s", "1-thread matmuls/s")],
         needs="numpy", python=runner.DEBIAN_PYTHON,
         env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}),
    Case("interp-pool", "InterpreterPoolExecutor(2) of pure-Python tasks (sub-interpreters, a GIL each) "
         "next to ThreadPoolExecutor(4) computing under the main GIL; Python 3.14+ (--python debian-3.14)",
         "interppool.py", lambda c: [8, 2_000_000, 2, 4], lambda c: [4, 500_000, 2, 4],
         Metric("interp_tasks_per_s", "interpreter pool tasks/s"),
         Metric("interp_s", "interpreter pool s", "lower"),
         [Metric("gil_msteps_per_s", "main-GIL threads' Msteps/s")], needs="interpreters"),
    Case("loop-1t", "a single-threaded pure-Python loop", "loop.py",
         lambda c: [10_000_000, 1, "-"], lambda c: [2_000_000, 1, "-"],
         Metric("steps_per_s", "steps/s")),
    Case("turn-cpu", "a thread that holds the GIL briefly (1 ms sleeps, socket round trips) "
         "for 1 s, then computes for 2 s, next to 4 CPU threads",
         "turncpu.py", lambda c: [4, 1.0, 2.0], lambda c: [4, 0.3, 0.5],
         Metric("cpu_p2_msteps_per_s", "CPU threads' Msteps/s while it computes"),
         Metric("cpu_max_gap_ms", "CPU threads' longest stall ms", "lower"),
         [Metric("cpu_msteps_per_s", "CPU threads' Msteps/s, whole run"),
          Metric("turned_msteps_per_s", "turned thread's Msteps/s"),
          Metric("p1_ops_per_s", "turned thread's brief holds/s")]),
]
SEED = "seed"
SEED_CALLGRIND = "seed-callgrind"
ALL = [SEED] + [c.name for c in CASES] + [SEED_CALLGRIND]
BY_NAME = {c.name: c for c in CASES}


# ---- packages -------------------------------------------------------------

_APT = {"wrk": "wrk", "numpy": "python3-numpy", "gunicorn": "gunicorn python3-flask wrk"}
_updated = []


def have(need):
    if need == "wrk":
        return shutil.which("wrk") is not None
    if need in ("numpy", "gunicorn"):
        if not os.access(runner.DEBIAN_PYTHON, os.X_OK):
            return False
        if need == "gunicorn" and not shutil.which("wrk"):
            return False
        mods = "numpy" if need == "numpy" else "gunicorn, flask"
        return subprocess.run([runner.DEBIAN_PYTHON, "-c", f"import {mods}"], env=runner.clean_env(),
                              capture_output=True, timeout=60).returncode == 0
    return True


def ensure(need):
    """True when the case's package is there (installed now as root if need be);
    otherwise prints the command to run and returns False."""
    if need is None or have(need):
        return True
    pkg = _APT[need]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        runner.progress(f"# missing Debian package {pkg}: run "
                        f"`sudo apt-get update && sudo apt-get install -y {pkg}`")
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _updated:
        runner.progress("# apt-get update")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        _updated.append(True)
    runner.progress(f"# apt-get install -y {pkg}")
    cp = subprocess.run(["apt-get", "install", "-y", "-qq"] + pkg.split(), env=env,
                        capture_output=True, text=True, timeout=900)
    if cp.returncode != 0 or not have(need):
        runner.progress(f"# could not install {pkg}: {cp.stderr.strip()[-500:]}")
        return False
    return True


# ---- running ----------------------------------------------------------------

class Context:
    def __init__(self, quick, python, tmpdir):
        self.quick, self.python, self.tmpdir = quick, python, tmpdir
        self._echo = None
        self._data = None

    @property
    def echo_port(self):
        if self._echo is None:
            self._echo = runner.EchoServer(self.python)
        return self._echo.port

    @property
    def data(self):
        if self._data is None:
            self._data = runner.make_data_file(self.tmpdir)
        return self._data

    def close(self):
        if self._echo is not None:
            self._echo.close()


def summarise(case, sides, runs):
    """Per shim side: {metric key: {"stock", "shim", "ratio": spread}}."""
    out = {}
    stock = runs["stock"]
    keys = [m.key for m in case.metrics()] + ["cpu_s", "ctx"]
    for s in sides[1:]:
        fig = {}
        for k in dict.fromkeys(keys):
            fig[k] = {"stock": runner.median_of(stock, k), "shim": runner.median_of(runs[s.name], k),
                      "ratios": runner.pair_ratios(stock, runs[s.name], k)}
        out[s.name] = fig
    return out


def run_case(case, ctx, sides, pairs, futex, log_dir=None, index=""):
    """Interleaved pairs of one case; returns {side: [runs]}."""
    python = case.python or ctx.python
    args = (case.quick_args if ctx.quick else case.args)(ctx)
    argv = [python, runner.workload(case.workload)] + [str(a) for a in args]
    driver = case.driver(ctx) if case.driver else None
    count = [0]

    def one(side):
        env = dict(case.env)
        if log_dir and side.shim:
            count[0] += 1
            env["BETAPOOL_LOG"] = os.path.join(log_dir, f"{case.name}-{side.name}-{count[0]}.jsonl")
        return runner.run(argv, side, futex=futex and case.futex, driver=driver, env_extra=env,
                     timeout=case.timeout, pin_cpu=pin)
    pin = set(sorted(os.sched_getaffinity(0))[:case.cpus]) if case.cpus else None

    def show(rnd, side, r):
        t = case.throughput
        lat = case.latency
        text = f"{t.label} {runner.number(r.get(t.key, float('nan')))}"
        if lat:
            text += f", {lat.label} {runner.number(r.get(lat.key, float('nan')))}"
        runner.progress(f"  [{index}{case.name}] pair {rnd + 1}/{pairs} {side.name}: {text} "
                        f"({r['run_wall_s']:.1f} s)")
    return runner.interleaved(sides, pairs, one, show)


def fig_cell(f, label=None):
    """'stock -> shim (ratio [min-max])'."""
    text = f"{runner.number(f['stock'])} → {runner.number(f['shim'])}"
    if f["ratios"]:
        text += f" ({runner.ratio_cell(f['ratios'])})"
    return (label + ": " if label else "") + text


def summary_rows(name, side, case, fig):
    t = case.throughput
    row = [name, side, f"{t.label}: " + fig_cell(fig[t.key])]
    row.append(fig_cell(fig[case.latency.key], case.latency.label) if case.latency else "-")
    row.append(runner.ratio_cell(fig["cpu_s"]["ratios"]))
    row.append(fig_cell(fig["ctx"]))
    also = [fig_cell(fig[m.key], m.label) for m in case.more]
    row.append("; ".join(also) or "-")
    return row


def seed_summary_rows(records):
    rows = []
    for r in records:
        same, shim = r["stock_runs"], r["shim_runs"]

        def f(key, a=same):
            return {"stock": runner.median_of(a, key), "shim": runner.median_of(shim, key),
                    "ratios": runner.pair_ratios(a, shim, key)}
        also = [f"vs best static T={r['best_static']}: "
                + fig_cell(f("tasks_per_s", r["best_runs"]))]
        if r["by_hand_runs"]:
            also.append("vs the same T pinned by hand: "
                        + fig_cell(f("tasks_per_s", r["by_hand_runs"])))
        also.append("in p99 ms vs best static: " + fig_cell(f("in_p99_ms", r["best_runs"])))
        rows.append([f"seed T={r['threads']} {r['pinning']}", r["side"],
                     "tasks/s: " + fig_cell(f("tasks_per_s")),
                     fig_cell(f("in_p99_ms"), "in-task p99 ms"),
                     runner.ratio_cell(f("cpu_s")["ratios"]), fig_cell(f("ctx")), "; ".join(also)])
    return rows


SUMMARY_HEAD = ["case", "side", "throughput: stock → side (side/stock, median [min-max])",
                "latency", "CPU s side/stock", "ctx switches", "also"]


def main(args):
    """bench matrix. args from bench's parser."""
    lib = runner.check_lib(args.lib, "bench")
    sides = runner.make_sides(lib, dict(args.env), dict(args.variant))
    names = args.cases or ALL
    unknown = [n for n in names if n not in ALL]
    if unknown:
        sys.exit(f"bench matrix: unknown case(s): {', '.join(unknown)}; known: {', '.join(ALL)}")
    pairs = args.pairs if args.pairs is not None else (1 if args.quick else 7)
    futex = runner.have_futex_counter()
    extra = [f"pairs:   {pairs} interleaved per case{' (--quick: a smoke run, not a result)' if args.quick else ''}",
             "futex:   " + ("perf stat -e syscalls:sys_enter_futex" if futex
                            else "not counted (perf or its tracepoint unavailable)")]
    lines = runner.header_lines(args.python, sides, lib, extra)
    for line in lines:
        print(f"<!-- {line} -->" if args.markdown else f"# {line}")
    sys.stdout.flush()
    results = {"command": sys.argv, "python": args.python, "pairs": pairs, "quick": args.quick,
               "sides": {s.name: s.extra for s in sides}, "cases": {}, "skipped": {},
               "failed": {}}
    summary, detail = [], []
    with tempfile.TemporaryDirectory(prefix="bench-matrix.") as tmp:
        ctx = Context(args.quick, args.python, tmp)
        try:
            for i, name in enumerate(names):
                index = f"{i + 1}/{len(names)} "
                if name == SEED:
                    runner.progress(f"[{index}seed] the seed workload, pinned and unpinned")
                    try:
                        records = run_seed(args, sides, pairs, results)
                    except runner.RunError as e:
                        runner.progress(f"  [seed] FAILED: {e}")
                        results["failed"][name] = str(e)
                        summary.append([name, "-", "FAILED (see stderr)", "-", "-", "-", "-"])
                        continue
                    summary += seed_summary_rows(records)
                    continue
                if name == SEED_CALLGRIND:
                    summary += seed_callgrind_rows(args, sides, results, index)
                    continue
                case = BY_NAME[name]
                runner.progress(f"[{index}{name}] {case.title}")
                if case.needs == "interpreters":
                    python = case.python or ctx.python
                    probe = subprocess.run([python, "-c", "from concurrent.futures import InterpreterPoolExecutor"],
                                           env=runner.clean_env(), capture_output=True, timeout=60)
                    if probe.returncode != 0:
                        results["skipped"][name] = "needs Python 3.14+"
                        summary.append([name, "-", "skipped: needs Python 3.14+ (InterpreterPoolExecutor); "
                                        "--python debian-3.14", "-", "-", "-", "-"])
                        continue
                elif not ensure(case.needs):
                    results["skipped"][name] = f"needs {_APT[case.needs]}"
                    summary.append([name, "-", f"skipped: needs Debian package "
                                    f"{_APT[case.needs]}", "-", "-", "-", "-"])
                    continue
                try:
                    runs = run_case(case, ctx, sides, pairs, futex, index=index)
                except runner.RunError as e:
                    runner.progress(f"  [{name}] FAILED: {e}")
                    results["failed"][name] = str(e)
                    summary.append([name, "-", "FAILED (see stderr)", "-", "-", "-", "-"])
                    continue
                figs = summarise(case, sides, runs)
                results["cases"][name] = {"title": case.title, "runs": runs, "figures": figs}
                for side, fig in figs.items():
                    summary.append(summary_rows(name, side, case, fig))
                    for m in case.metrics() + [Metric("cpu_s", "CPU s", "lower"),
                                               Metric("ctx", "ctx switches", "lower")]:
                        f = fig[m.key]
                        detail.append([name, side, m.label, runner.number(f["stock"]),
                                       runner.number(f["shim"]), runner.ratio_cell(f["ratios"])])
        finally:
            ctx.close()
    runner.print_table(f"matrix: stock against each side, {pairs} interleaved pair(s) per case; "
                       "medians, ratio side/stock as median [min-max] of the pairs",
                       SUMMARY_HEAD, summary, args.markdown, left=2)
    if detail:
        runner.print_table("every figure (medians; ratio side/stock, median [min-max] of the pairs)",
                           ["case", "side", "figure", "stock", "side", "side/stock"],
                           detail, args.markdown, left=3)
    if results["skipped"]:
        print("\nskipped: " + "; ".join(f"{k} ({v})" for k, v in results["skipped"].items()))
    if results["failed"]:
        print("\nFAILED: " + ", ".join(results["failed"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
        print(f"\nraw results: {args.json}")
    return 1 if results["failed"] else 0


def run_seed(args, sides, pairs, results):
    quick = args.quick
    tasks = args.tasks or (3000 if quick else 20_000)
    sweep_threads = args.threads or ([4, 32] if quick else [1, 2, 4, 8, 16, 32, 64, 256])
    sweep_rounds = args.sweep_rounds or (1 if quick else 2)
    seed = Seed(args.python, tasks, 1000, 0.0001, args.cpu)
    best = {"pinned": args.best_pinned or args.best, "unpinned": args.best_unpinned or args.best}
    res = {"tasks": tasks}
    records = seed_table(seed, sides, ["pinned", "unpinned"], [256, 2048], best,
                         sweep_threads, sweep_rounds, pairs, args.markdown, res)
    results["seed"] = res
    return records


def seed_callgrind_rows(args, sides, results, index):
    """The seed's workload under callgrind, once per side: instructions per
    task of every thread but the shim's own, and the shim's own apart (its
    work is per tick of time, which valgrind slows some 50 times)."""
    tasks = 600 if args.quick else 3000
    runner.progress(f"[{index}{SEED_CALLGRIND}] the seed's workload T=256, {tasks} tasks, under "
                    "valgrind --tool=callgrind, PYTHONHASHSEED=0")
    if not callgrind.ensure_valgrind():
        results["skipped"][SEED_CALLGRIND] = "needs valgrind"
        return [[SEED_CALLGRIND, "-", "skipped: needs valgrind", "-", "-", "-", "-"]]
    counts = {}
    try:
        for side in sides:
            counts[side.name] = callgrind.seed_count(args.python, side, tasks, 256)
            runner.progress(f"  [{SEED_CALLGRIND}] {side.name}: "
                            f"{counts[side.name]['python_threads'] / tasks:,.0f} instructions per task")
    except (runner.RunError, subprocess.TimeoutExpired) as e:
        results["failed"][SEED_CALLGRIND] = str(e)
        return [[SEED_CALLGRIND, "-", "FAILED (see stderr)", "-", "-", "-", "-"]]
    results[SEED_CALLGRIND] = counts
    stock = counts["stock"]["python_threads"]
    rows = []
    for side in sides[1:]:
        c = counts[side.name]
        rows.append([f"{SEED_CALLGRIND} T=256", side.name,
                     f"instructions per task: {stock / tasks:,.0f} → {c['python_threads'] / tasks:,.0f} "
                     f"({c['python_threads'] / stock:.3f})", "-", "-", "-",
                     f"the shim's own thread: {c['shim_thread'] / tasks:,.0f} per task"])
    return rows
