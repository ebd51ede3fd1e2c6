"""A thread-per-connection HTTP server (http.server.ThreadingHTTPServer,
HTTP/1.1 keep-alive: one handler thread per connection) on 127.0.0.1 with a
small JSON handler, next to NCPU pure-Python CPU threads. The benchmark
drives it with wrk; the server prints 'ready {"port": N}', serves until its
stdin closes, then reports the CPU threads' loop rate and requests served.
usage: httpserver.py NCPU"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import perf_counter

from _wl import Spinners, ready, report

ncpu = int(sys.argv[1])
served = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body are two sends: no 40 ms delayed ACK

    def do_GET(self):
        body = json.dumps({"path": self.path, "ok": True, "n": len(served)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        served.append(1)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
serving.start()
cpu = Spinners(ncpu)
cpu.start()
t0 = perf_counter()
ready(port=server.server_address[1])
wall = perf_counter() - t0
steps = cpu.stop()
server.shutdown()
server.server_close()
report(served=len(served), cpu_msteps_per_s=steps / wall / 1e6, wall_s=wall)
