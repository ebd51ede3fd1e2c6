"""A steady measure of betapool's cost per GIL release and retake: user-space
instructions counted by `valgrind --tool=callgrind` (PYTHONHASHSEED=0, so two
runs of one program agree to within a few instructions per read) of one
thread doing N and then 2N 64 KiB os.read calls of /dev/zero
(workloads/readloop.py); (count(2N) - count(N)) / N is one read, one GIL
release and retake, whatever the machine's load. Under valgrind
clock_gettime is a system call and its kernel side is not counted; nor is
the kernel's 64 KiB copy."""
import os
import re
import shutil
import subprocess
import tempfile

from . import runner


def ensure_valgrind():
    """True when valgrind is there (installed now as root if need be);
    otherwise says how to install it and returns False."""
    if shutil.which("valgrind"):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        runner.progress("# valgrind is missing: run `sudo apt-get update && sudo apt-get install -y "
                        "valgrind`; skipping the instruction counts")
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    runner.progress("# installing valgrind: apt-get update && apt-get install -y valgrind")
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], env=env,
                   capture_output=True, timeout=900)
    if not shutil.which("valgrind"):
        runner.progress("# could not install valgrind; skipping the instruction counts")
        return False
    return True


def count(python, side, reads, where="worker", timeout=900):
    """Instructions of one run of readloop.py under callgrind: (the process's
    threads but betapool's own, every thread). betapool's own thread works
    per interval of time, and time under valgrind runs some 50 times slower
    and moves with the machine's load: counted apart, it would make the
    per-read figure drift by tens of instructions between identical runs."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind.") as tmp:
        out = os.path.join(tmp, "cg.out")
        argv = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                f"--callgrind-out-file={out}", python, runner.workload("readloop.py"),
                str(reads), where]
        env = dict(side.env, PYTHONHASHSEED="0")
        cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        if cp.returncode != 0:
            raise runner.RunError(f"callgrind run ({side.name}, {reads} reads) exited with "
                                  f"{cp.returncode}:\n{cp.stderr[-2000:]}")
        reports = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
        if not reports or ('"preloaded": true' in reports[-1]) != side.shim:
            raise runner.RunError(f"callgrind run of {side.name}: the shim is "
                                  f"{'not ' if side.shim else ''}mapped")
        python_threads = every = 0
        files = [f for f in os.listdir(tmp) if re.fullmatch(r"cg\.out-\d+", f)]
        for name in files:
            with open(os.path.join(tmp, name)) as f:
                text = f.read()
            m = re.search(r"^totals: (\d+)", text, re.M) or re.search(r"^summary: (\d+)", text, re.M)
            if not m:
                raise runner.RunError(f"callgrind wrote no total in {name}")
            n = int(m.group(1))
            every += n
            if "monitor_main" not in text:       # betapool's own thread (shim/monitor.c)
                python_threads += n
        if not files:
            raise runner.RunError(f"callgrind wrote no per-thread file:\n{cp.stderr[-2000:]}")
        return python_threads, every


def per_cycle(python, side, reads, where="worker"):
    """Instructions per read: {"python_threads": x, "all_threads": y}, and the
    raw counts at N and 2N."""
    one = count(python, side, reads, where)
    two = count(python, side, 2 * reads, where)
    per = {"python_threads": (two[0] - one[0]) / reads, "all_threads": (two[1] - one[1]) / reads}
    return per, one, two


def seed_count(python, side, tasks=3000, threads=256, timeout=3600):
    """The seed's workload (workloads/seed.py TASKS THREADS 1000 0.0001) under
    callgrind, PYTHONHASHSEED=0, every thread counted: {"python_threads": n,
    "shim_thread": m, "tasks": tasks, "threads": threads}. The shim's own
    thread is counted apart: its work is per interval of time (a tick), and
    time under valgrind runs some 50 times slower."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-seed.") as tmp:
        out = os.path.join(tmp, "cg.out")
        argv = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                f"--callgrind-out-file={out}", python, runner.workload("seed.py"),
                str(tasks), str(threads), "1000", "0.0001"]
        env = dict(side.env, PYTHONHASHSEED="0")
        cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        if cp.returncode != 0:
            raise runner.RunError(f"callgrind seed run ({side.name}) exited with "
                                  f"{cp.returncode}:\n{cp.stderr[-2000:]}")
        python_threads = shim = 0
        files = [f for f in os.listdir(tmp) if re.fullmatch(r"cg\.out-\d+", f)]
        if not files:
            raise runner.RunError(f"callgrind wrote no per-thread file:\n{cp.stderr[-2000:]}")
        for name in files:
            with open(os.path.join(tmp, name)) as f:
                text = f.read()
            m = re.search(r"^totals: (\d+)", text, re.M) or re.search(r"^summary: (\d+)", text, re.M)
            if not m:
                raise runner.RunError(f"callgrind wrote no total in {name}")
            if "monitor_main" in text:
                shim += int(m.group(1))
            else:
                python_threads += int(m.group(1))
        return {"python_threads": python_threads, "shim_thread": shim, "tasks": tasks,
                "threads": threads}
