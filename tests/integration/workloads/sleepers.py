"""Sleep-bound threads: N threads each do ROUNDS x time.sleep(SEC).
usage: sleepers.py N ROUNDS SEC   prints one JSON line: pid, workers."""
import json
import os
import sys
import threading
import time

n, rounds, sec = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
tids = [None] * n


def work(i):
    tids[i] = threading.get_native_id()
    for _ in range(rounds):
        time.sleep(sec)


ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(json.dumps({"pid": os.getpid(), "threads": n, "workers": tids}))
