"""The one runner behind scripts/bench, scripts/bench-overhead and scripts/demo.

It starts a workload (scripts/lib/workloads/*.py) as a child process with or
without libbetapool preloaded, pinned to one CPU or not, reaps it with
os.wait4 for its CPU seconds (user+sys) and context switches
(voluntary+involuntary), optionally counts its futex system calls with
`perf stat -e syscalls:sys_enter_futex`, and checks that the shim is mapped
into the child exactly when the row says so (a shim row without the shim, or
a stock row with it, is an error, never a figure). Every child is bounded
in time: one that outlives its timeout is killed and reported.

A "side" is one configuration of the child's environment: `stock` (no
preload, no BETAPOOL_* variable), `default` (LD_PRELOAD of the library and no
BETAPOOL_* variable: what a user gets), and any number of variants
(`--variant NAME:K=V,K=V`). `--env K=V` adds a variable to every shim side.
"""
import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LIB_DIR = Path(__file__).resolve().parent
REPO_ROOT = LIB_DIR.parent.parent
WORKLOADS = LIB_DIR / "workloads"
DEFAULT_LIB = REPO_ROOT / "build" / "shim" / "libbetapool.so"
DEBIAN_PYTHON = "/usr/bin/python3"


def default_python():
    """The interpreter measured when none is named: Debian's optimized
    python3 (libpython in the executable, what most servers here run), else
    the one running this script."""
    return DEBIAN_PYTHON if os.access(DEBIAN_PYTHON, os.X_OK) else sys.executable


DEFAULT_PYTHON_HELP = f"default: {DEBIAN_PYTHON}, Debian's optimized build, else this one"


class RunError(Exception):
    """A child failed, timed out, or had the shim mapped when it should not."""


def clean_env():
    """The caller's environment without any preload or betapool setting."""
    return {k: v for k, v in os.environ.items()
            if k != "LD_PRELOAD" and not k.startswith("BETAPOOL_")}


class Side:
    """One configuration of the child's environment."""

    def __init__(self, name, env, shim, extra=None):
        self.name = name
        self.env = env
        self.shim = shim
        self.extra = extra or {}

    def describe(self, lib):
        if not self.shim:
            return f"{self.name}: no preload, no BETAPOOL_* variable"
        vars_ = " ".join(f"{k}={v}" for k, v in self.extra.items())
        return (f"{self.name}: LD_PRELOAD={shown_path(lib)} "
                + (vars_ or "(no BETAPOOL_* variable: the library's default mode)"))


def make_sides(lib, env=None, variants=None, default_name="default", with_default=True):
    """[stock, default, variants...]; lib None gives stock only."""
    base = clean_env()
    sides = [Side("stock", base, False)]
    if lib is None:
        return sides
    env = dict(env or {})
    if with_default:
        sides.append(Side(default_name, {**base, "LD_PRELOAD": str(lib), **env}, True, env))
    for name, extra in (variants or {}).items():
        both = {**env, **extra}
        sides.append(Side(name, {**base, "LD_PRELOAD": str(lib), **both}, True, both))
    return sides


def shown_path(path):
    """A path inside the repository relative to it: no machine path in a table."""
    path = os.path.abspath(str(path))
    try:
        if os.path.commonpath([path, str(REPO_ROOT)]) == str(REPO_ROOT):
            return os.path.relpath(path, REPO_ROOT)
    except ValueError:
        pass
    return path


def workload(name):
    return str(WORKLOADS / name)


def have_futex_counter():
    if not shutil.which("perf"):
        return False
    try:
        cp = subprocess.run(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_futex", "--", "true"],
                            capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return cp.returncode == 0 and "sys_enter_futex" in cp.stderr and "not supported" not in cp.stderr


def run(argv, side, *, pin_cpu=None, futex=False, timeout=300, driver=None, env_extra=None):
    """Run argv (a workload's command line) in side's environment; return its
    JSON report with wall_s (around the child, start-up and exit included),
    cpu_s, ctx, ctx_voluntary, ctx_involuntary and, with futex, futex.

    pin_cpu: run the child on that one CPU, or on that set of CPUs
    (sched_setaffinity before exec).
    driver: for a workload that prints 'ready {...}' and then serves until its
    stdin closes: called with that info, returns figures to merge in (e.g.
    wrk's); the child's stdin is closed after it returns."""
    env = dict(side.env, **(env_extra or {}))
    futex_file = None
    if futex:
        fd, futex_file = tempfile.mkstemp(prefix="bench-futex-")
        os.close(fd)
        argv = ["perf", "stat", "-x,", "-o", futex_file, "-e", "syscalls:sys_enter_futex", "--"] + list(argv)

    def preexec():
        os.setsid()            # its own group: a timeout kills it and its children
        if pin_cpu is not None:
            os.sched_setaffinity(0, pin_cpu if isinstance(pin_cpu, (set, frozenset)) else {pin_cpu})

    timed_out = []
    extra = {}
    with tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=errf, preexec_fn=preexec)

        def kill():
            timed_out.append(True)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            try:
                if driver is not None:
                    line = proc.stdout.readline().decode()
                    if line.startswith("ready "):
                        extra = driver(json.loads(line[6:]))
            finally:
                proc.stdin.close()      # a driven child ends when its stdin closes
            out = proc.stdout.read()
            _, status, ru = os.wait4(proc.pid, 0)   # wait4, not Popen.wait: rusage
            wall = time.perf_counter() - t0
        except BaseException:
            # Ctrl-C or a failed driver: the child has its own session, so
            # end it (and anything it started) here.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            raise
        finally:
            timer.cancel()
            proc.stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    what = f"{side.name} run of {shlex.join(os.path.basename(a) for a in argv[:4])}"
    if timed_out:
        raise RunError(f"{what}: killed after {timeout} s\n{err[-2000:]}")
    if proc.returncode != 0:
        raise RunError(f"{what}: exited with {proc.returncode}\n{err[-2000:]}")
    lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.startswith("{")]
    if not lines:
        raise RunError(f"{what}: printed no report\n{err[-2000:]}")
    r = json.loads(lines[-1])
    if r.get("preloaded") != side.shim:
        raise RunError(f"{what}: the shim is {'mapped' if r.get('preloaded') else 'not mapped'}"
                       f" in a {'shim' if side.shim else 'stock'} run")
    r.update(extra)
    r.update(wall_s=r.get("wall_s", wall), run_wall_s=wall, cpu_s=ru.ru_utime + ru.ru_stime,
             ctx=ru.ru_nvcsw + ru.ru_nivcsw, ctx_voluntary=ru.ru_nvcsw,
             ctx_involuntary=ru.ru_nivcsw)
    if futex_file:
        with open(futex_file) as f:
            counts = [ln.split(",")[0] for ln in f if "sys_enter_futex" in ln]
        os.unlink(futex_file)
        r["futex"] = float(counts[0]) if counts and counts[0].isdigit() else float("nan")
    return r


def interleaved(sides, pairs, run_one, progress=None):
    """Run every side once per round, `pairs` rounds, the order rotated each
    round (with two sides: A B, B A, A B, ...), so slow drifts of the machine
    hit every side alike. run_one(side) -> result. Returns {side name: [runs]}."""
    runs = {s.name: [] for s in sides}
    for rnd in range(pairs):
        k = rnd % len(sides)
        order = sides[k:] + sides[:k]
        for s in order:
            r = run_one(s)
            runs[s.name].append(r)
            if progress:
                progress(rnd, s, r)
    return runs


# ---- figures ------------------------------------------------------------

def spread(values):
    values = [v for v in values if v == v]  # NaN out
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def pair_ratios(a_runs, b_runs, key):
    """Per-round b/a of key (a zero denominator gives no ratio)."""
    return [b[key] / a[key] for a, b in zip(a_runs, b_runs)
            if key in a and key in b and a[key]]


def median_of(runs, key):
    vals = [r[key] for r in runs if key in r and r[key] == r[key]]
    return statistics.median(vals) if vals else float("nan")


def ratio_cell(values):
    s = spread(values)
    if s is None:
        return "-"
    return f"{s[0]:.2f}x [{s[1]:.2f}-{s[2]:.2f}]"


def number(v, fmt=None):
    if v != v:
        return "-"
    if fmt:
        return fmt.format(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def print_table(title, head, rows, markdown, left=1, file=None):
    file = file or sys.stdout
    if title:
        print(f"\n**{title}**\n" if markdown else f"\n{title}", file=file)
    if markdown:
        print("| " + " | ".join(head) + " |", file=file)
        print("|" + "|".join("---" if i < left else "---:" for i in range(len(head))) + "|",
              file=file)
        for row in rows:
            print("| " + " | ".join(row) + " |", file=file)
        return
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    for row in [head] + rows:
        print("  ".join(c.ljust(w) if i < left else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))).rstrip(), file=file)


# ---- command lines --------------------------------------------------------

def parse_env(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected K=V, got {text!r}")
    return key, value


def parse_variant(text):
    name, sep, rest = text.partition(":")
    if not sep or not name or name in ("stock", "default"):
        raise argparse.ArgumentTypeError(
            f"expected NAME:K=V[,K=V] (NAME not stock or default), got {text!r}")
    return name, dict(parse_env(kv) for kv in rest.split(",") if kv)


def parse_list(text):
    return [c.strip() for c in text.split(",") if c.strip()]


def parse_threads(text):
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1: {text!r}")
    return values


def add_lib_option(p):
    p.add_argument("--lib", default=str(DEFAULT_LIB),
                   help=f"the library (default: {shown_path(DEFAULT_LIB)} in the repository)")


def add_side_options(p):
    add_lib_option(p)
    p.add_argument("--env", type=parse_env, action="append", default=[], metavar="K=V",
                   help="add a variable to every shim run (repeatable)")
    p.add_argument("--variant", type=parse_variant, action="append", default=[],
                   metavar="NAME:K=V[,K=V]",
                   help="one more shim configuration with rows of its own, on top of "
                        "--env (repeatable)")


def check_lib(lib, prog):
    lib = os.path.abspath(lib)
    if not os.path.isfile(lib):
        print(f"{prog}: library not found: {lib} (build it: meson setup build && "
              f"meson compile -C build)", file=sys.stderr)
        sys.exit(2)
    return lib


def python_version(python):
    return subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                          env=clean_env(), capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def header_lines(python, sides=(), lib=None, extra=()):
    lines = [f"command: {shlex.join([shown_path(sys.argv[0])] + sys.argv[1:])}",
             f"python:  {python} ({python_version(python)})",
             f"host:    {platform.node()} {platform.machine()} cpus={os.cpu_count()} "
             f"allowed={sorted(os.sched_getaffinity(0))} kernel={platform.release()}"]
    lines += list(extra)
    for s in sides:
        lines.append("side:    " + s.describe(lib))
    return lines


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def make_data_file(tmpdir, size=64 << 20):
    """A file of random bytes, read once so that it sits in the page cache."""
    path = os.path.join(tmpdir, "data.bin")
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass
    return path


class EchoServer:
    """The echo server of the socket-client cases: a separate stock Python
    process on 127.0.0.1, ended when the benchmark ends (its stdin closes)."""

    def __init__(self, python=None):
        self.proc = subprocess.Popen([python or sys.executable, workload("echo_server.py")],
                                     env=clean_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.port = int(self.proc.stdout.readline())

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
