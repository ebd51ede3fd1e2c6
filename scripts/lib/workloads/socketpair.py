"""COUNT 64-byte request/response round trips split over THREADS client
threads, each with an echo thread at the other end of a socketpair.
usage: socketpair.py COUNT THREADS -
reports round trips/s and the p50/p99 of one round trip (ms)."""
import socket
import sys
import threading
import time
from time import perf_counter

from _wl import pct, report, run_threads, shares

count, nthreads = int(sys.argv[1]), int(sys.argv[2])
lat = []


def echo(sock):
    while True:
        data = sock.recv(4096)
        if not data:
            break
        sock.sendall(data)
    sock.close()


def client(n):
    mine, peer = socket.socketpair()
    echoer = threading.Thread(target=echo, args=(peer,))
    echoer.start()
    msg = b"q" * 64
    mine_lat = []
    for _ in range(n):
        t0 = perf_counter()
        mine.sendall(msg)
        got = 0
        while got < len(msg):
            got += len(mine.recv(4096))
        mine_lat.append(perf_counter() - t0)
    mine.close()
    echoer.join()
    lat.extend(mine_lat)


t0 = time.perf_counter()
run_threads(client, [(n,) for n in shares(count, nthreads)])
body = time.perf_counter() - t0
report(body_s=body, rt_per_s=count / body, p50_ms=pct(lat, 50) * 1e3, p99_ms=pct(lat, 99) * 1e3)
