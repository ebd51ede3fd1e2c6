"""multiprocessing with a start method (argv[1]: fork or spawn): every child
runs a ThreadPoolExecutor(8) over small CPU tasks and returns a checksum. Then
a non-Python subprocess. Prints everything as JSON; the output must not
depend on the shim."""
import hashlib
import json
import multiprocessing
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

warnings.simplefilter("ignore", DeprecationWarning)


def small(i):
    h = hashlib.sha256()
    acc = 0
    for j in range(3000):
        acc = (acc * 131 + i * j) % 2147483647
    h.update(str(acc).encode())
    return h.hexdigest()[:12]


def child(seed):
    with ThreadPoolExecutor(8) as ex:
        parts = list(ex.map(small, range(seed * 100, seed * 100 + 48)))
    return seed, hashlib.sha256("".join(parts).encode()).hexdigest()


def main():
    method = sys.argv[1]
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(2)
    try:
        results = pool.map(child, range(6))
    finally:
        pool.close()
        pool.join()
    p = ctx.Process(target=child, args=(99,))
    p.start()
    p.join()
    sh = subprocess.run(["sh", "-c", "echo x; echo y >&2; exit 4"], capture_output=True, text=True)
    print(json.dumps({"method": method, "results": results, "process_exit": p.exitcode,
                      "sh": [sh.stdout, sh.stderr, sh.returncode]}))


if __name__ == "__main__":
    main()
