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

import runner as R


def ensure_valgrind():
    """True when valgrind is there (installed now as root if need be);
    otherwise says how to install it and returns False."""
    if shutil.which("valgrind"):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        R.progress("# valgrind is missing: run `sudo apt-get update && sudo apt-get install -y "
                   "valgrind`; skipping the instruction counts")
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    R.progress("# installing valgrind: apt-get update && apt-get install -y valgrind")
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], env=env,
                   capture_output=True, timeout=900)
    if not shutil.which("valgrind"):
        R.progress("# could not install valgrind; skipping the instruction counts")
        return False
    return True


def count(python, side, reads, where="worker", timeout=900):
    """Instructions of one run of readloop.py under callgrind, all threads."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            python, R.workload("readloop.py"), str(reads), where]
    env = dict(side.env, PYTHONHASHSEED="0")
    cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if cp.returncode != 0:
        raise R.RunError(f"callgrind run ({side.name}, {reads} reads) exited with "
                         f"{cp.returncode}:\n{cp.stderr[-2000:]}")
    m = re.search(r"Collected : (\d+)", cp.stderr)
    if not m:
        raise R.RunError(f"callgrind printed no count:\n{cp.stderr[-2000:]}")
    reports = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    if not reports or ('"preloaded": true' in reports[-1]) != side.shim:
        raise R.RunError(f"callgrind run of {side.name}: the shim is mapped "
                         f"{'not ' if side.shim else ''}as it should be")
    return int(m.group(1))


def per_cycle(python, side, reads, where="worker"):
    """(instructions per read, count at N, count at 2N)."""
    one = count(python, side, reads, where)
    two = count(python, side, 2 * reads, where)
    return (two - one) / reads, one, two
