"""KeyboardInterrupt with every worker CPU-bound. N daemon threads spin on
pure Python until told to stop; the main thread prints 'ready' and joins
them with a timeout in a loop. On KeyboardInterrupt it prints
'interrupted <time.monotonic()>' (CLOCK_MONOTONIC, comparable with the
sender's clock) and exits 0; if none comes within 60 s it exits 1.
usage: auto_sigint.py N"""
import sys
import threading
import time


def spin(stop):
    x = 0
    while not stop.is_set():
        for i in range(1000):
            x += i ^ (x & 7)


def main():
    n = int(sys.argv[1])
    stop = threading.Event()
    ts = [threading.Thread(target=spin, args=(stop,), daemon=True) for _ in range(n)]
    for t in ts:
        t.start()
    print("ready", flush=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for t in ts:
                t.join(0.05)
    except KeyboardInterrupt:
        caught = time.monotonic()
        stop.set()
        print(f"interrupted {caught:.6f}", flush=True)
        # Let the workers finish before the interpreter does: CPython 3.10
        # can crash at exit while daemon threads still run Python.
        for t in ts:
            t.join(5)
        sys.exit(0)
    print("not interrupted", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
