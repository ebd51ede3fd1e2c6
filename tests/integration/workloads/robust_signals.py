"""CPU-bound workers and signals/shutdown.
usage: robust_signals.py daemon-exit   start 4 CPU-bound daemon threads, exit 5
       robust_signals.py wait          4 CPU-bound workers; main joins with a
                                       timeout in a loop; prints 'ready'; on
                                       KeyboardInterrupt prints 'interrupted'
                                       and exits 0"""
import sys
import threading
import time


def spin(stop):
    n = 0
    while not stop.is_set():
        n = (n * 31 + 7) % 1000003


def main():
    stop = threading.Event()
    ts = [threading.Thread(target=spin, args=(stop,), daemon=True) for _ in range(4)]
    for t in ts:
        t.start()
    if sys.argv[1] == "daemon-exit":
        time.sleep(0.3)
        sys.exit(5)
    print("ready", flush=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for t in ts:
                t.join(0.05)
    except KeyboardInterrupt:
        stop.set()
        print("interrupted", flush=True)
        sys.exit(0)
    print("not interrupted", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
