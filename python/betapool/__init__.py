"""betapool: GIL-aware thread measurement and throttling for unmodified
CPython programs (libbetapool.so, preloaded).

From a program that runs under betapool (`betapool run app.py`):

    import betapool
    if betapool.active():
        m = betapool.metrics()
        print(m["current_threads"], m["beta_io"], m["k"], m["vetoes"])

Nothing here loads the library: metrics() only asks the process whether it
was started with libbetapool.so preloaded. Standard library only.

The BetaPool seed's API is here too, a superset of it (docs/seed-api.md):

    from betapool import AdaptiveThreadPoolExecutor
    with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=64) as ex:
        results = list(ex.map(task, args))
        print(ex.get_metrics()["avg_blocking_ratio"])
"""
import ctypes
import os

__version__ = "0.1.0"
__all__ = ["metrics", "active", "library_path", "__version__",
           "AdaptiveThreadPoolExecutor", "StaticThreadPoolExecutor", "ControllerConfig",
           "ControllerState", "TaskMetrics", "MetricsCollector", "AggregatedMetrics",
           "WorkloadGenerator", "PoissonArrivalGenerator", "BurstArrivalGenerator"]

# The seed's API, loaded on first use (PEP 562) so that `import betapool`,
# and so every `betapool` command, stays cheap: name -> its module.
_SEED_API = {
    "AdaptiveThreadPoolExecutor": "executor", "StaticThreadPoolExecutor": "executor",
    "ControllerConfig": "executor", "ControllerState": "executor",
    "TaskMetrics": "metrics", "MetricsCollector": "metrics", "AggregatedMetrics": "metrics",
    "WorkloadGenerator": "workloads", "PoissonArrivalGenerator": "workloads",
    "BurstArrivalGenerator": "workloads",
}


def __getattr__(name):
    module = _SEED_API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module("." + module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_SEED_API))


LIB_NAME = "libbetapool.so"
_HERE = os.path.dirname(os.path.abspath(__file__))

# _schema.py (the log's vocabulary) is written by meson at build time: beside
# this file when installed; in a source checkout, in build/python/betapool.
if not os.path.isfile(os.path.join(_HERE, "_schema.py")):
    __path__.append(os.path.join(_HERE, "..", "..", "build", "python", "betapool"))


def library_path():
    """The libbetapool.so that belongs to this package, or None: installed
    (pip, meson install), it is where the build recorded it, relative to this
    directory; in a source checkout, build/shim of that checkout."""
    try:
        from . import _where            # written by meson at build time
        rel = _where.LIBRARY
    except ImportError:
        rel = os.path.join("..", "..", "build", "shim", LIB_NAME)
    path = os.path.normpath(os.path.join(_HERE, rel))
    return path if os.path.isfile(path) else None


# struct betapool_metrics of include/betapool.h, in order. Fields are only
# ever added at the end; tests/integration/test_api.py holds this list to the
# header.
_FIELDS = (
    ("size", ctypes.c_uint32), ("mode", ctypes.c_int32), ("gil_found", ctypes.c_int32),
    ("python_threads", ctypes.c_uint32), ("k", ctypes.c_int32),
    ("min_workers", ctypes.c_int32), ("max_workers", ctypes.c_int32),
    ("parked", ctypes.c_uint32), ("gil_waiting", ctypes.c_uint32),
    ("beta", ctypes.c_double), ("beta_io", ctypes.c_double),
    ("beta_io_smoothed", ctypes.c_double), ("gil_wait_share", ctypes.c_double),
    ("scale_ups", ctypes.c_uint64), ("scale_downs", ctypes.c_uint64),
    ("vetoes", ctypes.c_uint64), ("holds", ctypes.c_uint64),
    ("parks", ctypes.c_uint64), ("park_overruns", ctypes.c_uint64),
    ("threads_started", ctypes.c_uint64), ("threads_exited", ctypes.c_uint64),
    ("samples", ctypes.c_uint64),
    ("pinned_cpu", ctypes.c_int32), ("affinity", ctypes.c_int32),
    ("pins", ctypes.c_uint64), ("unpins", ctypes.c_uint64),
    ("gate_shut", ctypes.c_int32), ("gate", ctypes.c_int32), ("priority", ctypes.c_int32),
    ("gate_shuts", ctypes.c_uint64), ("gate_opens", ctypes.c_uint64),
    ("forced_switches", ctypes.c_uint64), ("favoured_waits", ctypes.c_uint64),
    ("gil_held_ns", ctypes.c_uint64), ("gil_wait_ns", ctypes.c_uint64),
    ("sampled_unix_ns", ctypes.c_uint64),
)


class _Metrics(ctypes.Structure):
    _fields_ = list(_FIELDS)


_MODES = {0: "off", 1: "observe", 2: "auto"}

# The seed's AdaptiveThreadPoolExecutor.get_metrics() keys that the shim
# knows the same thing for, and where it gets them. The seed's task counts
# and latencies have no equivalent: betapool sees threads, not tasks.
_SEED_KEYS = (
    ("current_threads", "python_threads"),      # threads alive (the seed: its pool's size)
    ("min_workers", "min_workers"),
    ("max_workers", "max_workers"),
    ("avg_blocking_ratio", "beta"),              # the seed's 1 - cpu/wall, last interval
    ("scale_up_count", "scale_ups"),
    ("scale_down_count", "scale_downs"),
)

_get = None


def _function():
    """betapool_get_metrics from the process's own symbols (it is there only
    when the library was preloaded), or None."""
    global _get
    if _get is None:
        try:
            fn = ctypes.CDLL(None).betapool_get_metrics
        except (AttributeError, OSError):
            fn = False
        else:
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.POINTER(_Metrics), ctypes.c_size_t]
        _get = fn
    return _get or None


def metrics():
    """What betapool sees in this process now, as a dict; None when
    libbetapool.so is not preloaded or not active (mode off, not CPython).

    Keys: the seed's (current_threads, min_workers, max_workers,
    avg_blocking_ratio, scale_up_count, scale_down_count), then betapool's
    own: mode, gil_found, python_threads, k, parked, gil_waiting, beta,
    beta_io, beta_io_smoothed, gil_wait_share, vetoes, holds, parks,
    park_overruns, threads_started, threads_exited, samples, pinned_cpu
    (None: not pinned), affinity, pins, unpins, gate_shut, gate, priority,
    gate_shuts, gate_opens, forced_switches, favoured_waits, gil_held_ns,
    gil_wait_ns, sampled_unix_ns, version. A library older than this package
    fills in fewer: the keys of the fields it does not know are left out."""
    fn = _function()
    if fn is None:
        return None
    m = _Metrics()
    filled = fn(ctypes.byref(m), ctypes.sizeof(m))
    if filled <= 0:
        return None
    own = {}
    for name, _ctype in _FIELDS:
        field = getattr(_Metrics, name)
        if field.offset + field.size > filled:
            break                               # an older library: not filled in
        own[name] = getattr(m, name)
    own.pop("size", None)
    if "mode" in own:
        own["mode"] = _MODES.get(own["mode"], str(own["mode"]))
    for key in ("gil_found", "affinity", "gate_shut", "gate", "priority"):
        if key in own:
            own[key] = bool(own[key])
    if own.get("pinned_cpu", -1) < 0 and "pinned_cpu" in own:
        own["pinned_cpu"] = None
    out = {seed: own[mine] for seed, mine in _SEED_KEYS if mine in own}
    out.update(own)
    out["version"] = _version()
    return out


# betapool.metrics is also the seed's module: importing it makes the
# package's attribute the module, which answers calls with this function.
_shim_metrics = metrics


def _version():
    try:
        fn = ctypes.CDLL(None).betapool_version
    except (AttributeError, OSError):
        return None
    fn.restype = ctypes.c_char_p
    fn.argtypes = []
    v = fn()
    return v.decode("ascii", "replace") if v else None


def active():
    """True when this process runs under betapool (libbetapool.so preloaded,
    a CPython it understands, mode not off)."""
    return _shim_metrics() is not None
