"""The public metrics API (include/betapool.h) from Python through ctypes.

usage: auto_metrics.py probe
           prints one JSON line: whether the process's global symbol scope
           (ctypes.CDLL(None)) has betapool_get_metrics / betapool_version.
       auto_metrics.py read N DELAY [DELAY ...]
           starts N CPU-bound threads, and DELAY seconds after they started
           (each DELAY in turn) reads the metrics; prints one JSON line: pid,
           version, layout, short (a call with a 12-byte size), null_rc (a
           call with NULL), reads (each the return value, every field, and
           t_lo and t_hi: the call was made between them, in the log's
           clock)."""
import ctypes
import json
import os
import sys
import threading
import time


class Metrics(ctypes.Structure):
    """struct betapool_metrics, field for field."""
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("mode", ctypes.c_int32),
        ("gil_found", ctypes.c_int32),
        ("python_threads", ctypes.c_uint32),
        ("k", ctypes.c_int32),
        ("min_workers", ctypes.c_int32),
        ("max_workers", ctypes.c_int32),
        ("parked", ctypes.c_uint32),
        ("gil_waiting", ctypes.c_uint32),
        ("beta", ctypes.c_double),
        ("beta_io", ctypes.c_double),
        ("beta_io_smoothed", ctypes.c_double),
        ("gil_wait_share", ctypes.c_double),
        ("scale_ups", ctypes.c_uint64),
        ("scale_downs", ctypes.c_uint64),
        ("vetoes", ctypes.c_uint64),
        ("holds", ctypes.c_uint64),
        ("parks", ctypes.c_uint64),
        ("park_overruns", ctypes.c_uint64),
        ("threads_started", ctypes.c_uint64),
        ("threads_exited", ctypes.c_uint64),
        ("samples", ctypes.c_uint64),
        ("pinned_cpu", ctypes.c_int32),
        ("affinity", ctypes.c_int32),
        ("pins", ctypes.c_uint64),
        ("unpins", ctypes.c_uint64),
        ("gate_shut", ctypes.c_int32),
        ("gate", ctypes.c_int32),
        ("priority", ctypes.c_int32),
        ("gate_shuts", ctypes.c_uint64),
        ("gate_opens", ctypes.c_uint64),
        ("forced_switches", ctypes.c_uint64),
        ("favoured_waits", ctypes.c_uint64),
        ("gil_held_ns", ctypes.c_uint64),
        ("gil_wait_ns", ctypes.c_uint64),
        ("sampled_unix_ns", ctypes.c_uint64),
    ]


def layout():
    return {"sizeof": ctypes.sizeof(Metrics),
            "offsets": {name: getattr(Metrics, name).offset for name, _ in Metrics._fields_}}


def _starttime(stat_path):
    """A task's start, seconds since boot (CLOCK_BOOTTIME), truncated to the
    kernel's tick."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def shim_clock_bounds():
    """(earliest, latest) boot time at which the log's clock can have
    started, or None for the latest if the shim's thread is not found. The
    shim starts its clock in its constructor, after this process's fork, and
    then starts its own thread, named "betapool"; both starts are known to a
    kernel tick."""
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    latest = None
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() == "betapool":
                    latest = _starttime(f"/proc/self/task/{tid}/stat") + tick
        except OSError:
            continue
    return _starttime("/proc/self/stat"), latest


def probe():
    lib = ctypes.CDLL(None)
    print(json.dumps({"pid": os.getpid(),
                      "get_metrics": hasattr(lib, "betapool_get_metrics"),
                      "version": hasattr(lib, "betapool_version"),
                      "layout": layout()}))


def read(n, delays):
    lib = ctypes.CDLL(None)
    get = getattr(lib, "betapool_get_metrics")
    get.restype = ctypes.c_int
    get.argtypes = [ctypes.POINTER(Metrics), ctypes.c_size_t]
    ver = getattr(lib, "betapool_version")
    ver.restype = ctypes.c_char_p
    ver.argtypes = []

    stop = threading.Event()
    idle = threading.Event()

    def spin():
        x = 0
        while not stop.is_set():
            for i in range(1000):
                x += i ^ (x & 7)

    ts = [threading.Thread(target=spin) for _ in range(n)]
    for t in ts:
        t.start()
    earliest, latest = shim_clock_bounds()
    t0 = time.monotonic()
    reads = []
    for d in delays:
        # Wait on a Python lock (idle), not in time.sleep: a sleeping main
        # thread would count as blocked outside the GIL and raise beta_io.
        idle.wait(max(0.0, t0 + d - time.monotonic()))
        m = Metrics()
        before = time.clock_gettime(time.CLOCK_BOOTTIME)
        # ctypes releases the GIL around the call, and taking it back from
        # the spinning workers can take a while: the call itself happened
        # between `before` and `after`, close to `before`.
        rc = get(ctypes.byref(m), ctypes.sizeof(m))
        after = time.clock_gettime(time.CLOCK_BOOTTIME)
        row = {name: getattr(m, name) for name, _ in Metrics._fields_}
        # The call in the log's clock: no earlier than t_lo, no later than
        # t_hi (None when the shim's thread was not found).
        row.update(rc=rc, t_hi=round(after - earliest, 6),
                   t_lo=round(before - latest, 6) if latest is not None else None)
        reads.append(row)
    # A caller built against an older, smaller header: only what it asked for.
    short = Metrics()
    short.k = short.min_workers = -7
    rc_short = get(ctypes.byref(short), 12)
    stop.set()
    for t in ts:
        t.join()
    print(json.dumps({"pid": os.getpid(), "version": ver().decode(), "layout": layout(),
                      "short": {"rc": rc_short, "size": short.size, "mode": short.mode,
                                "gil_found": short.gil_found, "k": short.k,
                                "min_workers": short.min_workers},
                      "null_rc": get(None, ctypes.sizeof(Metrics)),
                      "clock_start": [earliest, latest], "reads": reads}))


if __name__ == "__main__":
    if sys.argv[1] == "probe":
        probe()
    else:
        read(int(sys.argv[2]), [float(a) for a in sys.argv[3:]])
