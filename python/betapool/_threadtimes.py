"""The calling thread's GIL times from libbetapool.so (include/betapool.h:
betapool_thread_times), for per-task blocking ratios that see the GIL.

Called through ctypes.PyDLL: the call keeps the GIL. A plain CDLL call would
drop and take it again around every read, and in a contended pool each take
can cost a switch interval (5 ms) of waiting: the measurement would make
what it measures. The function reads the thread's own record and returns.
"""
import ctypes


class ThreadTimes(ctypes.Structure):
    # struct betapool_thread_times, in order; tests/integration/test_api.py
    # holds this list to the header.
    _fields_ = [
        ("size", ctypes.c_uint32), ("pad", ctypes.c_uint32),
        ("now_ns", ctypes.c_uint64), ("gil_held_ns", ctypes.c_uint64),
        ("gil_wait_ns", ctypes.c_uint64), ("idle_ns", ctypes.c_uint64),
        ("parked_ns", ctypes.c_uint64), ("outside_ns", ctypes.c_uint64),
    ]


_fn = None


def _function():
    global _fn
    if _fn is None:
        try:
            fn = ctypes.PyDLL(None).betapool_thread_times
        except (AttributeError, OSError):
            fn = False
        else:
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.POINTER(ThreadTimes), ctypes.c_size_t]
        _fn = fn
    return _fn or None


def available():
    """True when the preloaded library can say how this thread's time went
    (it is active, found the GIL and follows this thread)."""
    return read() is not None


def read():
    """(now, held, wait, idle, parked, outside) in seconds for the calling
    thread, or None."""
    fn = _function()
    if fn is None:
        return None
    t = ThreadTimes()
    if fn(ctypes.byref(t), ctypes.sizeof(t)) < ctypes.sizeof(t):
        return None
    ns = 1e-9
    return (t.now_ns * ns, t.gil_held_ns * ns, t.gil_wait_ns * ns, t.idle_ns * ns,
            t.parked_ns * ns, t.outside_ns * ns)
