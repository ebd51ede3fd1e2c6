"""A TCP echo server on 127.0.0.1 for the socket-client workloads, run by
the benchmark as a separate stock process. Prints its port, serves any
number of connections in one thread, exits when its stdin closes (the
benchmark ended or died) or after LIMIT seconds (default 3600).
usage: echo_server.py [LIMIT]"""
import os
import selectors
import socket
import sys
import time

limit = float(sys.argv[1]) if len(sys.argv) > 1 else 3600.0
sel = selectors.DefaultSelector()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ, "accept")
sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
print(srv.getsockname()[1], flush=True)
end = time.monotonic() + limit
while time.monotonic() < end:
    for key, _ in sel.select(timeout=1.0):
        if key.data == "accept":
            conn, _ = srv.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ, "conn")
        elif key.data == "stdin":
            if not os.read(sys.stdin.fileno(), 4096):
                sys.exit(0)
        else:
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(conn)
                conn.close()
                continue
            conn.setblocking(True)   # 64-byte echoes: never blocks for long
            conn.sendall(data)
            conn.setblocking(False)
