"""A thread started by a C library, not by CPython: libc's pthread_create is
called through ctypes with a ctypes callback as the start routine; the
callback runs Python code (taking the GIL through ctypes), then the thread is
joined through ctypes. Prints 'tid N result R'."""
import ctypes
import threading

# CDLL(None) looks symbols up in the global scope, as a C library's own call
# to pthread_create would be bound: through an LD_PRELOADed interposer first.
libc = ctypes.CDLL(None, use_errno=True)
START = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
seen = {}


def routine(arg):
    seen["tid"] = threading.get_native_id()
    seen["result"] = sum(i * i for i in range(100000)) % 99991
    return None


cb = START(routine)


def main():
    results = []
    for _ in range(3):
        th = ctypes.c_ulong(0)
        rc = libc.pthread_create(ctypes.byref(th), None, cb, None)
        assert rc == 0, rc
        rc = libc.pthread_join(th, None)
        assert rc == 0, rc
        results.append((seen["tid"], seen["result"]))
    # Python threads alongside, so the log has both kinds.
    out = []
    ts = [threading.Thread(target=lambda: out.append(sum(range(50000)))) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for tid, r in results:
        print(f"tid {tid} result {r}")
    print("python", sum(out))


if __name__ == "__main__":
    main()
