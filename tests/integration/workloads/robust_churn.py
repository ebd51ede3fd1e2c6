"""Start and join many short threads, BATCH at a time; report VmRSS after 10%
of them and at the end, as JSON on stdout.
usage: robust_churn.py [threads] [batch]"""
import json
import sys
import threading
import time

TOTAL = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 8


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


counter = [0]
lock = threading.Lock()


def work(i):
    with lock:
        counter[0] += i & 7


def main():
    t0 = time.monotonic()
    rss_10 = None
    done = 0
    while done < TOTAL:
        n = min(BATCH, TOTAL - done)
        ts = [threading.Thread(target=work, args=(done + k,)) for k in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        done += n
        if rss_10 is None and done >= TOTAL // 10:
            rss_10 = rss_kib()
    expect = sum(i & 7 for i in range(TOTAL))
    print(json.dumps({"threads": done, "rss_10_kib": rss_10, "rss_end_kib": rss_kib(),
                      "ok": counter[0] == expect, "seconds": round(time.monotonic() - t0, 2),
                      "alive": threading.active_count()}))


if __name__ == "__main__":
    main()
