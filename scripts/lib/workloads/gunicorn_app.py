"""gunicorn with WORKERS worker processes (-k gthread --threads THREADS)
serving flaskapp.py on 127.0.0.1 at a free port: the deployment that shares
a machine among GIL-bound processes. Debian's gunicorn and python3-flask,
run by this interpreter (python -m gunicorn), so the shim reaches the master
and, through fork, its workers. Prints 'ready {"port": N}' once the app
answers, serves until stdin closes, then stops gunicorn (SIGTERM to the
master, which ends its workers; SIGKILL to the group after 20 s) and
reports the workers' ending.
usage: gunicorn_app.py WORKERS THREADS"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from _wl import ready, report

workers, threads = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", workers, "--threads", threads,
                         "-k", "gthread", "-b", f"127.0.0.1:{port}", "--chdir", here,
                         "--log-level", "warning", "flaskapp:app"],
                        stdin=subprocess.DEVNULL, start_new_session=True)
try:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                r.read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.1)
    ready(port=port)
finally:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
report(gunicorn_exit=proc.returncode)
