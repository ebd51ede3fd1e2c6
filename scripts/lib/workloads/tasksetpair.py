"""Two processes of the seed's pool side by side, started together: one
confined to the first CPU (as `taskset -c N` would), one on every CPU it may
use. Each runs seed.py's pool (TASKS tasks, ThreadPoolExecutor(WORKERS)).
Reports each one's tasks/s and their sum.
usage: tasksetpair.py TASKS WORKERS ITERS SLEEP"""
import json
import os
import subprocess
import sys

from _wl import report

here = os.path.dirname(os.path.abspath(__file__))
argv = [sys.executable, os.path.join(here, "seed.py")] + sys.argv[1:5]
first = min(os.sched_getaffinity(0))
pinned = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                          preexec_fn=lambda: os.sched_setaffinity(0, {first}))
free = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
out = {}
for name, p in (("pinned", pinned), ("free", free)):
    text, _ = p.communicate(timeout=600)
    if p.returncode:
        raise SystemExit(f"the {name} process failed ({p.returncode})")
    out[name] = json.loads([ln for ln in text.splitlines() if ln.startswith("{")][-1])
report(tasks_per_s=out["pinned"]["tasks_per_s"] + out["free"]["tasks_per_s"],
       taskset_tasks_per_s=out["pinned"]["tasks_per_s"], free_tasks_per_s=out["free"]["tasks_per_s"])
